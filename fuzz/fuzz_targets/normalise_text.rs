//! The generic text and identifier normalisers on arbitrary text: never
//! panic; idempotent.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkwell::normalise::text;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let t = text::normalise_text(s);
    assert_eq!(text::normalise_text(&t), t, "text not idempotent");
    let i = text::normalise_identifier(s);
    assert_eq!(
        text::normalise_identifier(&i),
        i,
        "identifier not idempotent"
    );
});
