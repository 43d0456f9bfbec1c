#!/bin/sh
# Post-install for db2: runs inside the installed system.
set -eu
echo "db2" > /etc/hostname
echo "installed by netboot for 52:54:00:20:01:02" > /etc/motd
