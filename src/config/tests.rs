use super::*;

#[test]
fn every_key_round_trips_through_set() {
    let base = TrainConfig::default();
    for (key, _) in all_keys() {
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

#[test]
fn eval_tasks_parse_validate_and_round_trip() {
    let mut c = TrainConfig::default();
    c.set_override("task=mnli").unwrap();
    c.set_override("eval_tasks=[SNLI, rte, scitail:test]")
        .unwrap();
    assert_eq!(c.eval_tasks, vec!["snli", "rte", "scitail:test"]);
    c.set_override("eval_tasks=sick, rte").unwrap();
    assert_eq!(c.eval_tasks, vec!["sick", "rte"]);
    for bad in [
        "eval_tasks=[imdb]",
        "eval_tasks=rte:train",
        "eval_tasks=demo",
    ] {
        let e = c.set_override(bad).unwrap_err().to_string();
        assert!(
            e.contains("eval_tasks") && e.contains("expected"),
            "{bad}: {e}"
        );
    }
    c.validate("test").unwrap();
    // A map for a task not evaluated, a label the training task lacks, a regression task.
    let text = "task: mnli\neval_tasks: [rte]\nlabel_maps: {sick: {neutral: entailment}}\n";
    let e = preset::parse_preset(text, "x.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not in eval_tasks"), "{e}");
    let text = "task: mnli\neval_tasks: [rte]\nlabel_maps: {rte: {maybe: entailment}}\n";
    let e = preset::parse_preset(text, "x.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`maybe` is not a label"), "{e}");
    let e = preset::parse_preset("task: stsb\neval_tasks: [rte]\n", "x.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("classification task"), "{e}");
    let e = preset::parse_preset("task: rte\neval_tasks: [rte, rte:test]\n", "x.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("twice"), "{e}");
    // config.yaml round trip with a label map.
    let text = "task: mnli\neval_tasks: [rte]\nlabel_maps: {rte: {neutral: entailment}}\n";
    let c = preset::parse_preset(text, "x.yaml").unwrap();
    let yaml = serde_yaml::to_string(&c).unwrap();
    assert_eq!(preset::parse_preset(&yaml, "config.yaml").unwrap(), c);
}

#[test]
fn stage_base_steps_follow_the_setting() {
    let mut c = TrainConfig {
        max_steps: None,
        num_epochs: 3.0,
        batch_size: 16,
        ..TrainConfig::default()
    };
    assert_eq!(c.stage_base_steps(1000), 189);
    assert_eq!(c.update_steps(c.stage_base_steps(1000)), 9);
    c.set_override("stage_steps_from=epoch").unwrap();
    // The authors' low-resource scripts: ceil(1000 / 16) = 63 steps, stages of 3.
    assert_eq!(c.stage_base_steps(1000), 63);
    assert_eq!(c.update_steps(c.stage_base_steps(1000)), 3);
    assert!(c.set_override("stage_steps_from=half").is_err());
    assert!(c.set_override("train_sampling=random").is_ok());
    assert_eq!(c.train_sampling, TrainSampling::Random);
}

#[test]
fn the_protocol_presets_parse() {
    for name in ["ood-snli", "ood-mnli", "lowres-500", "lowres-1000"] {
        let info = find_preset(name).unwrap_or_else(|| panic!("{name}"));
        assert!(info.config.train_size.is_some(), "{name}");
        assert_eq!(info.config.train_sampling, TrainSampling::Stratified);
    }
    let ood = find_preset("ood-snli").unwrap().config;
    assert_eq!(
        ood.eval_tasks,
        vec!["mnli", "snli", "sick", "scitail", "rte"]
    );
    assert_eq!(ood.max_steps, Some(1500));
    let low = find_preset("lowres-1000").unwrap().config;
    assert_eq!(low.stage_steps_from, StageStepsFrom::Epoch);
}
