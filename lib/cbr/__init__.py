"""The CBR API: transport, authentication, signing, and the client that fetches and lists logs."""
