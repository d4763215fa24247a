"""Publishing and consuming events over JetStream, with the guarantees spelled out."""
