"""The inventory: snapshots of CBR's vaults, policies, protectable resources and restore points."""
