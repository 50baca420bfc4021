"""Job workers: poll a submitted job until it ends, then download and convert its file, on threads."""
