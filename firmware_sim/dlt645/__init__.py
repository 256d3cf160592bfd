"""A simulated DL/T 645-2007 meter and the transparent 4G DTU it sits behind."""
