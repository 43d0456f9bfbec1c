# netboot dhcp-config for fleet.kdl: boot answers for MikroTik RouterOS 7.
# Fleet sha256 dda2b85771e7. Generated: edit the fleet and export again, not this.
# Serve the fleet with `netboot serve --no-dhcp` on 192.168.1.10 (TFTP port 69, HTTP port 8080).
# What each client kind gets (iPXE is told apart first, so a loader that
# has started is handed its script, not itself again):
#   ipxe       (user class iPXE or option 175): http://192.168.1.10:8080/boot.ipxe
#     desk (52:54:00:10:00:10): http://192.168.1.10:8080/hosts/52-54-00-10-00-10.ipxe
#   bios       (PXEClient arch 0): tftp undionly.kpxe
#   efi-x64    (PXEClient arch 7/9): tftp ipxe.efi
#   http-x64   (HTTPClient arch 16/7/9): http://192.168.1.10:8080/ipxe.efi
# Paste into a RouterOS 7.4+ terminal. Replace dhcp1 with the name of the LAN's
# DHCP server (`/ip dhcp-server print`); its network gets next-server.
# RouterOS matchers cannot test a MAC and a client kind together: these
# machines get their kind's answer instead of their own. For iPXE that is
# the same in the end (boot.ipxe chains to each named machine's script).
#   desk (52:54:00:10:00:10) ipxe

/ip dhcp-server option
add name=netboot-tftp-server code=66 value="'192.168.1.10'"
add name=netboot-httpclient code=60 value="'HTTPClient'"
add name=netboot-ipxe-file code=67 value="'http://192.168.1.10:8080/boot.ipxe'"
add name=netboot-bios-file code=67 value="'undionly.kpxe'"
add name=netboot-efi-x64-file code=67 value="'ipxe.efi'"
add name=netboot-http-x64-file code=67 value="'http://192.168.1.10:8080/ipxe.efi'"
/ip dhcp-server option sets
add name=netboot-ipxe options=netboot-ipxe-file
add name=netboot-bios options=netboot-tftp-server,netboot-bios-file
add name=netboot-efi-x64 options=netboot-tftp-server,netboot-efi-x64-file
add name=netboot-http-x64 options=netboot-httpclient,netboot-http-x64-file
/ip dhcp-server matcher
add name=netboot-ipxe server=dhcp1 code=77 value="iPXE" option-set=netboot-ipxe
add name=netboot-bios-0 server=dhcp1 code=93 value=0x0000 option-set=netboot-bios
add name=netboot-efi-x64-7 server=dhcp1 code=93 value=0x0007 option-set=netboot-efi-x64
add name=netboot-efi-x64-9 server=dhcp1 code=93 value=0x0009 option-set=netboot-efi-x64
add name=netboot-http-x64-16 server=dhcp1 code=93 value=0x0010 option-set=netboot-http-x64
/ip dhcp-server network
set [find] next-server=192.168.1.10
