#!/bin/sh
# Post-install for db1: runs inside the installed system.
set -eu
echo "db1" > /etc/hostname
echo "installed by netboot for 52:54:00:20:01:01" > /etc/motd
