"""The AWS edge: the composition root, Lambda events, the queue drain, SQS sending, metrics."""
