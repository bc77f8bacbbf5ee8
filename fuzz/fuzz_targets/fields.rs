//! Google's `fields` partial-response mask: parse, then apply to a job list.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mlconsole::fuzzing::fields_one(data));
