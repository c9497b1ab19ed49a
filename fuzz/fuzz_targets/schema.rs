//! The schema parser and resolver on arbitrary TOML: never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkwell::schema::SchemaSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = SchemaSpec::from_toml(text) {
        let header = [
            "id",
            "nhs_number",
            "given_name",
            "family_name",
            "date_of_birth",
            "sex",
            "postcode",
            "street",
        ];
        if let Ok(schema) = spec.resolve(&header) {
            let _ = schema.output_columns();
            let secret = linkwell::secret::Secret::from_hex(
                b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            )
            .unwrap();
            let _ = linkwell::encode::Encoder::new(&secret, schema);
        }
    }
});
