"""`make bench`: measures Alur on this machine (see bench/README.md)."""
