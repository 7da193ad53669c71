//! The G.726 decoder on arbitrary bytes at each bit rate and in both packings, with its
//! state carried across whole bytes-per-codeword-group chunks.
#![no_main]

use callgrade::audio::g726::{Decoder, Packing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&head, bytes)) = data.split_first() else {
        return;
    };
    let bits = 2 + u32::from(head % 4);
    let packing = if head & 4 == 0 {
        Packing::MsbFirst
    } else {
        Packing::LsbFirst
    };
    // `bits` bytes hold exactly 8 codewords, so chunks of that many bytes split nothing.
    let group = bits as usize;
    let chunk = group * usize::from(head >> 3).max(1);
    let mut whole = Decoder::new(bits);
    let mut all = vec![0i16; bytes.len() * 8 / group];
    let n = whole.decode(bytes, packing, &mut all);
    assert!(n <= all.len());
    let mut in_chunks = Decoder::new(bits);
    let mut at = 0;
    for part in bytes.chunks(chunk) {
        let mut out = vec![0i16; part.len() * 8 / group];
        let got = in_chunks.decode(part, packing, &mut out);
        if part.len() == chunk {
            assert_eq!(out[..got], all[at..at + got]);
        }
        at += got;
    }
    // Single codewords decode the same way.
    let mut one = Decoder::new(bits);
    for &b in bytes.iter().take(64) {
        one.decode_code(b);
    }
});
