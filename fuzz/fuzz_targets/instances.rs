//! A prediction request's `{"instances": [...]}` against a model's input signature.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mlconsole::fuzzing::instances_one(data));
