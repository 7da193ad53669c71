//! Unit tests of the corpus: field edits and a reproducible corpus.

use super::*;

#[test]
fn fields_read_and_write_both_byte_orders() {
    let mut b = vec![0u8; 8];
    let le = Place::Le {
        offset: 1,
        bytes: 2,
    };
    le.write(&mut b, 0xABCD);
    assert_eq!(b[1..3], [0xCD, 0xAB]);
    assert_eq!(le.read(&b), 0xABCD);
    let be = Place::Be { bit: 36, bits: 20 };
    be.write(&mut b, 0xF_1234);
    assert_eq!(be.read(&b), 0xF_1234);
    assert_eq!(le.read(&b), 0xABCD, "neighbours untouched");
    assert_eq!(lies(8000, 32), vec![0, 0xFFFF_FFFF, 16000, 4000]);
}

#[test]
fn the_default_corpus_is_deterministic_and_large_enough() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/audio");
    let fixtures = load_fixtures(&dir).unwrap();
    let wav = fixtures
        .iter()
        .find(|f| f.name == "mulaw_8k_mono.wav")
        .unwrap();
    let names: Vec<&str> = wav.fields.iter().map(|f| f.name.as_str()).collect();
    assert!(names.contains(&"fmt.channels") && names.contains(&"data.size"));
    let a = corpus(&fixtures, 10_000, 7);
    let b = corpus(&fixtures, 10_000, 7);
    assert!(a.len() >= 10_000);
    let describe =
        |c: &[Mutation]| -> Vec<String> { c.iter().map(|m| m.describe(&fixtures)).collect() };
    assert_eq!(describe(&a), describe(&b));
    assert_eq!(corpus(&fixtures, 50, 7).len(), 50);
}
