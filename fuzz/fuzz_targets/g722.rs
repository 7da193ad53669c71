//! The G.722 decoder on arbitrary bytes in each of the three modes, with its state carried
//! across chunks of a length the input chooses (as a seek resumes from a saved state).
#![no_main]

use callgrade::audio::g722::{Decoder, Mode, SAMPLES_PER_BYTE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&head, bytes)) = data.split_first() else {
        return;
    };
    let mode = match head % 3 {
        0 => Mode::Kbit64,
        1 => Mode::Kbit56,
        _ => Mode::Kbit48,
    };
    let chunk = usize::from(head >> 2).max(1);
    let mut whole = Decoder::new(mode);
    let mut in_chunks = Decoder::new(mode);
    let mut all = vec![0i16; bytes.len() * SAMPLES_PER_BYTE];
    whole.decode(bytes, &mut all);
    for (i, part) in bytes.chunks(chunk).enumerate() {
        let mut out = vec![0i16; part.len() * SAMPLES_PER_BYTE];
        in_chunks.clone().decode(part, &mut out);
        in_chunks.decode(part, &mut out);
        // A decode in chunks is the continuous decode.
        let at = i * chunk * SAMPLES_PER_BYTE;
        assert_eq!(out[..], all[at..at + out.len()]);
    }
});
