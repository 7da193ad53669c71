//! The GSM 06.10 decoder on arbitrary WAV49 blocks, with its state carried across them.
#![no_main]

use callgrade::audio::gsm::{BLOCK_BYTES, BLOCK_SAMPLES, GsmDecoder, unpack_wav49};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = GsmDecoder::new();
    let mut out = [0i16; BLOCK_SAMPLES];
    for chunk in data.chunks_exact(BLOCK_BYTES) {
        let block: &[u8; BLOCK_BYTES] = chunk.try_into().expect("exact chunk");
        decoder.decode_block(block, &mut out);
        // The unpacked frames decode the same way one at a time.
        let mut again = decoder.clone();
        let mut frame_out = [0i16; 160];
        for frame in unpack_wav49(block) {
            again.decode_frame(&frame, &mut frame_out);
        }
    }
});
