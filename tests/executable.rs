//! Properties of the built executable itself.

/// The executable is position-independent (ELF type `ET_DYN`), so its own
/// code and static data are placed at a random address at every start:
/// enseal parses hostile input and keeps ASLR (see build.rs).
#[cfg(target_os = "linux")]
#[test]
fn executable_is_position_independent() {
    let bytes = std::fs::read(env!("CARGO_BIN_EXE_enseal")).expect("read the enseal executable");
    assert_eq!(&bytes[..4], b"\x7fELF", "not an ELF file");
    let little_endian = bytes[5] == 1;
    let e_type = if little_endian {
        u16::from_le_bytes([bytes[16], bytes[17]])
    } else {
        u16::from_be_bytes([bytes[16], bytes[17]])
    };
    const ET_EXEC: u16 = 2;
    const ET_DYN: u16 = 3;
    assert_ne!(
        e_type, ET_EXEC,
        "the executable is position-dependent (linked -no-pie)"
    );
    assert_eq!(e_type, ET_DYN, "unexpected ELF type {e_type}");
}
