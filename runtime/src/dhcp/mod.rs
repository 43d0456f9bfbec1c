//! Proxy-DHCP: answers PXE and HTTP-boot clients on UDP 67 and 4011, never offers an address.
