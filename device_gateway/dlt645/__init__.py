"""DL/T 645-2007 meters behind transparent 4G DTUs, bridged to protocol v1 (docs/dlt645.md)."""
