//! Tests of `engine/runner`.

use super::*;

#[test]
fn shell_words_quotes_what_needs_it() {
    let argv = ["python3", "-c", "print('hi')", "--lr=0.1", ""].map(String::from);
    assert_eq!(
        shell_words(&argv),
        r#"python3 -c 'print('\''hi'\'')' --lr=0.1 ''"#
    );
}
