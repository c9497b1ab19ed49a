use linkwell::secret::Secret;

use crate::cli::{KeyArgs, KeygenArgs};

pub fn keygen(args: &KeygenArgs) -> anyhow::Result<()> {
    let secret = Secret::generate_to_file(&args.out)?;
    eprintln!(
        "linkwell: wrote a new 256-bit key to {} (mode 0600); fingerprint {}",
        args.out.display(),
        secret.fingerprint()
    );
    println!("{}", secret.fingerprint());
    Ok(())
}

pub fn fingerprint(args: &KeyArgs) -> anyhow::Result<()> {
    let secret = Secret::load_from(args.key_file.as_deref())?;
    println!("{}", secret.fingerprint());
    Ok(())
}
