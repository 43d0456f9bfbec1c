//! Which firmware an ISO image boots on, from its El Torito boot catalog: the boot record
//! volume descriptor at sector 17 points at the catalog, whose entries each name a platform
//! (0 = x86 BIOS, 0xEF = UEFI) and whether the image is bootable (0x88). iPXE's `sanboot`
//! hands the image to the firmware as a disk, so a BIOS machine needs a BIOS entry and a UEFI
//! machine an EFI one. Pure over its input: the caller reads the two sectors it asks for.

/// ISO 9660 sectors are 2 KiB.
pub const SECTOR: u64 = 2048;

/// Where the volume descriptors [`boot_catalog`] reads start (sector 16), and how many bytes
/// it needs from there (sectors 16 and 17).
pub const DESCRIPTORS_AT: u64 = 16 * SECTOR;
pub const DESCRIPTORS_LEN: usize = 2 * SECTOR as usize;

/// How many bytes of the catalog [`boot_images`] reads: one sector holds 64 entries.
pub const CATALOG_LEN: usize = SECTOR as usize;

const PLATFORM_BIOS: u8 = 0;
const PLATFORM_EFI: u8 = 0xef;
const BOOTABLE: u8 = 0x88;

/// The firmware an ISO has a bootable image for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BootImages {
    pub bios: bool,
    pub efi: bool,
}

/// Why an image boots nothing by El Torito.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotBootable {
    #[error("it is not an ISO 9660 image")]
    NotIso,
    #[error("it is an ISO 9660 image without an El Torito boot record, so it boots nothing")]
    NoBootRecord,
    #[error("its El Torito boot catalog (sector {0}) is damaged")]
    BadCatalog(u32),
}

/// The boot catalog's sector, from the volume descriptors at sectors 16 and 17
/// (`descriptors`: [`DESCRIPTORS_LEN`] bytes read at [`DESCRIPTORS_AT`], or fewer when the
/// file is shorter).
pub fn boot_catalog(descriptors: &[u8]) -> Result<u32, NotBootable> {
    // Every volume descriptor carries the standard identifier `CD001` at byte 1.
    if descriptors.get(1..6) != Some(b"CD001".as_slice()) {
        return Err(NotBootable::NotIso);
    }
    let record = descriptors
        .get(SECTOR as usize..)
        .ok_or(NotBootable::NoBootRecord)?;
    // Type 0 (boot record), `CD001`, version 1, then the boot system identifier.
    let system = b"EL TORITO SPECIFICATION";
    if record.get(..7) != Some(b"\0CD001\x01".as_slice())
        || record.get(7..7 + system.len()) != Some(system.as_slice())
    {
        return Err(NotBootable::NoBootRecord);
    }
    let lba = record.get(0x47..0x4b).ok_or(NotBootable::NoBootRecord)?;
    Ok(u32::from_le_bytes([lba[0], lba[1], lba[2], lba[3]]))
}

/// The bootable images the catalog at sector `lba` lists (`catalog`: up to [`CATALOG_LEN`]
/// bytes read there).
pub fn boot_images(catalog: &[u8], lba: u32) -> Result<BootImages, NotBootable> {
    let bad = NotBootable::BadCatalog(lba);
    let validation = catalog.get(..32).ok_or(bad)?;
    // Header ID 1, key bytes 55 AA, and the 16 words summing to zero.
    let sum = validation.chunks_exact(2).fold(0u16, |s, w| {
        s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
    });
    if validation[0] != 1 || validation[30..32] != [0x55, 0xaa] || sum != 0 {
        return Err(bad);
    }
    let mut images = BootImages::default();
    let mut mark = |platform: u8, entry: &[u8]| {
        if entry[0] == BOOTABLE {
            match platform {
                PLATFORM_BIOS => images.bios = true,
                PLATFORM_EFI => images.efi = true,
                _ => {}
            }
        }
    };
    // The initial entry is for the validation entry's platform.
    mark(validation[1], catalog.get(32..64).ok_or(bad)?);
    // Then sections: a header (0x90, or 0x91 for the last) naming a platform and how many
    // entries follow; extension entries (0x44) ride along uncounted.
    let mut entries = catalog.get(64..).unwrap_or_default().chunks_exact(32);
    while let Some(header) = entries.next() {
        if !matches!(header[0], 0x90 | 0x91) {
            break;
        }
        let count = u16::from_le_bytes([header[2], header[3]]);
        let mut seen = 0;
        while seen < count {
            let entry = entries.next().ok_or(bad)?;
            if entry[0] == 0x44 {
                continue;
            }
            mark(header[1], entry);
            seen += 1;
        }
        if header[0] == 0x91 {
            break;
        }
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sectors 16 and 17 of an ISO whose boot catalog is at sector `lba`.
    fn descriptors(lba: u32) -> Vec<u8> {
        let mut d = vec![0u8; DESCRIPTORS_LEN];
        d[..7].copy_from_slice(b"\x01CD001\x01");
        let record = &mut d[SECTOR as usize..];
        record[..7].copy_from_slice(b"\0CD001\x01");
        record[7..30].copy_from_slice(b"EL TORITO SPECIFICATION");
        record[0x47..0x4b].copy_from_slice(&lba.to_le_bytes());
        d
    }

    /// A catalog: a validation entry for `first`'s platform with `first` as the initial
    /// entry, then one section per further (platform, bootable).
    fn catalog(first: (u8, bool), sections: &[(u8, bool)]) -> Vec<u8> {
        let mut c = vec![0u8; CATALOG_LEN];
        c[0] = 1;
        c[1] = first.0;
        c[30..32].copy_from_slice(&[0x55, 0xaa]);
        let sum = c[..32].chunks_exact(2).fold(0u16, |s, w| {
            s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
        });
        c[28..30].copy_from_slice(&0u16.wrapping_sub(sum).to_le_bytes());
        c[32] = if first.1 { BOOTABLE } else { 0 };
        for (i, (platform, bootable)) in sections.iter().enumerate() {
            let at = 64 + 64 * i;
            c[at] = if i + 1 == sections.len() { 0x91 } else { 0x90 };
            c[at + 1] = *platform;
            c[at + 2] = 1;
            c[at + 32] = if *bootable { BOOTABLE } else { 0 };
        }
        c
    }

    #[test]
    fn catalogs_built_by_hand() {
        assert_eq!(boot_catalog(&descriptors(48)), Ok(48));
        let both = boot_images(&catalog((0, true), &[(0xef, true)]), 48);
        assert_eq!(
            both,
            Ok(BootImages {
                bios: true,
                efi: true
            })
        );
        let efi = boot_images(&catalog((0xef, true), &[]), 48);
        assert_eq!(
            efi,
            Ok(BootImages {
                bios: false,
                efi: true
            })
        );
        // An entry that is not bootable counts for nothing.
        let none = boot_images(&catalog((0, false), &[(0xef, false)]), 48);
        assert_eq!(none, Ok(BootImages::default()));
        // An extension entry inside a section is not one of its entries.
        let mut ext = catalog((0, true), &[(0xef, true)]);
        ext.copy_within(96..128, 128);
        ext[96] = 0x44;
        assert_eq!(
            boot_images(&ext, 48),
            Ok(BootImages {
                bios: true,
                efi: true
            })
        );
    }

    #[test]
    fn what_boots_nothing() {
        assert_eq!(boot_catalog(b"stand-in"), Err(NotBootable::NotIso));
        assert_eq!(boot_catalog(&[]), Err(NotBootable::NotIso));
        let mut plain = descriptors(48);
        plain[SECTOR as usize..].fill(0);
        assert_eq!(boot_catalog(&plain), Err(NotBootable::NoBootRecord));
        assert_eq!(
            boot_catalog(&plain[..SECTOR as usize]),
            Err(NotBootable::NoBootRecord)
        );
        let mut broken = catalog((0, true), &[]);
        broken[28] ^= 1;
        assert_eq!(boot_images(&broken, 7), Err(NotBootable::BadCatalog(7)));
        assert_eq!(boot_images(&[1, 0], 7), Err(NotBootable::BadCatalog(7)));
        // A section that says it has more entries than the sector holds.
        let mut long = catalog((0, true), &[(0xef, true)]);
        long[66] = 0xff;
        assert_eq!(boot_images(&long, 7), Err(NotBootable::BadCatalog(7)));
    }

    /// Sectors 16–17 and the catalog sector of a real ISO, kept in tests/iso/.
    fn real(name: &str) -> Result<BootImages, NotBootable> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/iso");
        let read = |ext: &str| {
            let path = dir.join(format!("{name}.{ext}"));
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        };
        boot_images(&read("catalog"), boot_catalog(&read("descriptors"))?)
    }

    #[test]
    fn real_isos() {
        // Debian's grub-rescue-pc image boots BIOS only; memtest86+'s boots both.
        let bios_only = BootImages {
            bios: true,
            efi: false,
        };
        assert_eq!(real("grub-rescue-cdrom"), Ok(bios_only));
        let both = BootImages {
            bios: true,
            efi: true,
        };
        assert_eq!(real("memtest86+x64"), Ok(both));
    }
}
