//! `linkwell keygen` and `linkwell fingerprint`, and key loading.

use crate::util::*;

#[test]
fn keygen_writes_a_private_hex_key_and_never_overwrites() {
    let d = Dir::new();
    let r = d.run(&["keygen", "--out", "k.key"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = d.read("k.key");
    assert_eq!(text.len(), 65);
    assert!(text[..64]
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert!(text.ends_with('\n'));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.path("k.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let fp = r.stdout.trim().to_string();
    assert_eq!(fp.len(), 16);
    assert!(!r.stderr.contains(&text[..16]), "key never printed");
    let again = d.run(&["keygen", "--out", "k.key"]);
    assert_fails(&again, &["already exists", "never overwrites"]);
    assert_eq!(d.read("k.key"), text);
    let f = d.run(&["fingerprint", "--key-file", "k.key"]);
    assert_eq!(f.code, 0);
    assert_eq!(f.stdout.trim(), fp);
}

#[test]
fn fingerprint_known_answer_and_env_var() {
    let d = Dir::new();
    d.key("k.key", TEST_KEY_HEX);
    let r = d.run(&["fingerprint", "--key-file", "k.key"]);
    assert_eq!(r.stdout, "6d1cc2b0ca43e3cb\n");
    let key = d.path("k.key");
    let r = d.run_env(
        &["fingerprint"],
        &[("LINKWELL_KEY_FILE", key.to_str().unwrap())],
    );
    assert_eq!(r.stdout, "6d1cc2b0ca43e3cb\n", "{}", r.stderr);
}

#[test]
fn bad_key_files_are_refused_with_a_fix() {
    let d = Dir::new();
    assert_fails(
        &d.run(&["fingerprint"]),
        &["--key-file", "LINKWELL_KEY_FILE", "keygen"],
    );
    assert_fails(
        &d.run(&["fingerprint", "--key-file", "nope.key"]),
        &["nope.key", "does not exist"],
    );
    d.key("short.key", "00010203");
    assert_fails(
        &d.run(&["fingerprint", "--key-file", "short.key"]),
        &["short.key", "4 bytes", "at least 32"],
    );
    d.key("nothex.key", &"zz".repeat(32));
    assert_fails(
        &d.run(&["fingerprint", "--key-file", "nothex.key"]),
        &["not hexadecimal"],
    );
    let p = d.key("open.key", TEST_KEY_HEX);
    set_mode(&p, 0o644);
    assert_fails(
        &d.run(&["fingerprint", "--key-file", "open.key"]),
        &["group or others", "chmod 600 open.key"],
    );
    set_mode(&p, 0o000);
    // Root can read anything; only check the refusal when we are not root.
    let r = d.run(&["fingerprint", "--key-file", "open.key"]);
    assert!(
        r.code == 0 || r.stderr.contains("could not be read"),
        "{}",
        r.stderr
    );
    std::fs::create_dir(d.path("dir.key")).unwrap();
    set_mode(&d.path("dir.key"), 0o700);
    assert_fails(
        &d.run(&["fingerprint", "--key-file", "dir.key"]),
        &["dir.key", "not a regular file"],
    );
}

#[test]
fn keys_are_never_accepted_on_the_command_line() {
    let d = Dir::new();
    let r = d.run(&["fingerprint", "--key", TEST_KEY_HEX]);
    assert_eq!(r.code, 2, "clap usage error");
    assert!(
        !r.stderr.contains(TEST_KEY_HEX),
        "the rejected argument is not echoed: {}",
        r.stderr
    );
}
