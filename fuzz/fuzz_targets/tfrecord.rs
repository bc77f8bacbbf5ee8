//! TFRecord framing and Event decoding of a TensorBoard event file's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mlconsole::fuzzing::tfrecord_one(data));
