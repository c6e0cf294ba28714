use super::*;

#[test]
fn every_key_round_trips_through_set() {
    let base = TrainConfig::default();
    for (key, _) in KEYS {
        let mut c = base.clone();
        let v = base.get(key).unwrap_or(serde_yaml::Value::Null);
        c.set(key, &v, "test")
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(c, base, "{key}");
    }
}

#[test]
fn unknown_key_names_origin_and_allowed() {
    let mut c = TrainConfig::default();
    let e = c.set_override("learning_rat=1e-3").unwrap_err().to_string();
    assert!(e.contains("learning_rat"), "{e}");
    assert!(e.contains("--set"), "{e}");
    assert!(e.contains("learning_rate"), "{e}");
}

#[test]
fn out_of_range_and_wrong_type_are_refused() {
    let mut c = TrainConfig::default();
    for kv in [
        "p=1.0",
        "p=-0.1",
        "batch_size=0",
        "batch_size=abc",
        "learning_rate=0",
        "method=sgd",
        "device=gpu",
        "task=imdb",
        "update_ratio=0",
        "pad_to_max_length=maybe",
        "padding=tight",
    ] {
        let e = c.set_override(kv).unwrap_err().to_string();
        let key = kv.split('=').next().unwrap();
        assert!(e.contains(key) && e.contains("expected"), "{kv}: {e}");
    }
    assert_eq!(c, TrainConfig::default(), "a refused value changes nothing");
}

#[test]
fn overrides_apply() {
    let mut c = TrainConfig::default();
    c.set_override("p=0.5").unwrap();
    c.set_override("method=vanilla").unwrap();
    c.set_override("max_steps=10").unwrap();
    c.set_override("device=cuda:1").unwrap();
    c.set_override("dropout=null").unwrap();
    assert_eq!(c.p, 0.5);
    assert_eq!(c.method, Method::Vanilla);
    assert_eq!(c.max_steps, Some(10));
    assert_eq!(c.device, "cuda:1");
    assert_eq!(c.dropout, Dropout::Model);
    c.set_override("dropout=auto").unwrap();
    assert_eq!(c.dropout, Dropout::Auto);
    c.set_override("dropout=0.25").unwrap();
    assert_eq!(c.dropout, Dropout::Fixed(0.25));
    assert!(c.set_override("dropout=1.0").is_err());
    assert!(c.set_override("dropout=often").is_err());
}

#[test]
fn auto_dropout_follows_the_published_recipes() {
    let model = (0.1, 0.1);
    let auto = Dropout::Auto;
    for m in [Method::Vanilla, Method::ChildTuningF, Method::ChildTuningD] {
        assert_eq!(auto.resolve(m, 690, model), Dropout::Fixed(0.1), "{m}");
        assert_eq!(auto.resolve(m, 5000, model), Dropout::Fixed(0.1), "{m}");
    }
    for m in [Method::DpsDense, Method::DpsMix] {
        assert_eq!(auto.resolve(m, 690, model), Dropout::Fixed(0.0), "{m}");
        assert_eq!(auto.resolve(m, 1999, model), Dropout::Fixed(0.0), "{m}");
        assert_eq!(auto.resolve(m, 2000, model), Dropout::Fixed(0.1), "{m}");
    }
    // An explicit number always wins; the model's own stays unresolved when its two
    // probabilities differ.
    let fixed = Dropout::Fixed(0.2);
    assert_eq!(fixed.resolve(Method::DpsDense, 10, model), fixed);
    assert_eq!(
        Dropout::Model.resolve(Method::DpsDense, 10, (0.1, 0.0)),
        Dropout::Model
    );
    assert_eq!(
        auto.resolve(Method::Vanilla, 10, (0.1, 0.0)),
        Dropout::Model
    );
    // config.yaml round trip of every form.
    for d in [Dropout::Auto, Dropout::Model, Dropout::Fixed(0.1)] {
        let c = TrainConfig {
            dropout: d,
            ..TrainConfig::default()
        };
        let yaml = serde_yaml::to_string(&c).unwrap();
        let back = crate::config::preset::parse_preset(&yaml, "test").unwrap();
        assert_eq!(back.dropout, d, "{yaml}");
    }
}

#[test]
fn padding_key_and_its_deprecated_alias() {
    let mut c = TrainConfig::default();
    assert_eq!(c.padding_on(true), Padding::Packed);
    assert_eq!(c.padding_on(false), Padding::Longest);
    for (kv, want) in [
        ("padding=longest", Some(Padding::Longest)),
        ("padding=max_length", Some(Padding::MaxLength)),
        ("padding=packed", Some(Padding::Packed)),
        ("padding=null", None),
        ("pad_to_max_length=true", Some(Padding::MaxLength)),
        ("pad_to_max_length=false", Some(Padding::Longest)),
    ] {
        c.set_override(kv).unwrap();
        assert_eq!(c.padding, want, "{kv}");
    }
    // An old run folder's config.yaml (with `pad_to_max_length`, no `padding`) still reads.
    let old = "task: mrpc\npad_to_max_length: false\ngroup_by_length: true\n";
    let c = preset::parse_preset(old, "runs/x/config.yaml").unwrap();
    assert_eq!(c.padding, Some(Padding::Longest));
    assert!(c.group_by_length);
    // A new one writes `padding` and reads it back.
    let text = serde_yaml::to_string(&c).unwrap();
    assert!(text.contains("padding: longest") && !text.contains("pad_to_max_length"));
    assert_eq!(preset::parse_preset(&text, "config.yaml").unwrap(), c);
}

#[test]
fn schedule_lengths() {
    let mut c = TrainConfig {
        max_steps: Some(468),
        ..TrainConfig::default()
    };
    assert_eq!(c.update_steps(468), 23);
    c.max_steps = None;
    assert_eq!(c.total_steps(2490), 3 * 156);
    c.update_ratio = 0.001;
    assert_eq!(c.update_steps(100), 1);
}
