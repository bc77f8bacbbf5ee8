//! The gcloud filter parser (jobs and Cloud Logging share it): any text parses or is
//! refused, and a parsed filter evaluates, without a panic or unbounded recursion.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlconsole::fuzzing::filter_one;

fuzz_target!(|data: &[u8]| {
    filter_one(data);
});
