//! The TRE's configuration files on arbitrary input: a model spec (TOML), a
//! trained model (JSON) and a rules file (TOML). The first byte picks the
//! parser. Never panics; whatever parses is usable (weights and thresholds
//! are computed from it).
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkwell::link::deterministic::RulesFile;
use linkwell::link::probabilistic::model::{ModelSpec, TrainedModel};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let path = std::path::Path::new("fuzz");
    match which % 3 {
        0 => {
            if let Ok(spec) = ModelSpec::from_toml(path, text) {
                let _ = spec.threshold_weight();
                for c in &spec.comparisons {
                    let _ = c.level_names();
                    let _ = c.columns();
                }
            }
        }
        1 => {
            if let Ok(model) = TrainedModel::from_json(path, text) {
                assert!(model.prior_weight().is_finite());
                let _ = model.spec.threshold_weight();
                for (p, c) in model.comparisons.iter().zip(&model.spec.comparisons) {
                    assert_eq!(p.weights.len(), c.levels.len() + 1);
                    assert!(p.weights.iter().all(|w| w.is_finite()));
                }
            }
        }
        _ => {
            let _ = RulesFile::from_toml(path, text);
        }
    }
});
