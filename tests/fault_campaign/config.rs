//! Bad presets, `--set` values and sweep SPECs.

use super::*;

#[test]
fn bad_presets_name_the_file_the_line_or_key_and_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let demo = "task: demo\nmodel: demo\n";
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "an unknown key",
            format!("{demo}learnin_rate: 1e-3\n"),
            vec![
                "unknown key `learnin_rate`",
                "Allowed keys",
                "learning_rate",
            ],
        ),
        (
            "a value of the wrong type",
            format!("{demo}batch_size: lots\n"),
            vec![
                "`batch_size`",
                "`lots`",
                "expected an integer from 1 to 4096",
            ],
        ),
        (
            "a value out of range",
            format!("{demo}learning_rate: 5\n"),
            vec!["`learning_rate`", "expected a number > 0 and <= 1"],
        ),
        (
            "a key written twice",
            format!("{demo}# the seed\nseed: 1\nbatch_size: 8\nseed: 2\n"),
            vec![":6:", "`seed` appears twice", "first at line 4", "Fix"],
        ),
        (
            "a list, not a mapping",
            "- task\n- demo\n".into(),
            vec!["must be a mapping of `key: value` lines"],
        ),
        (
            "a bare word, not a mapping",
            "just words\n".into(),
            vec!["must be a mapping of `key: value` lines"],
        ),
        (
            "invalid YAML: an unclosed list",
            format!("{demo}eval_tasks: [rte\n"),
            vec!["not valid YAML", "line 4", "Fix"],
        ),
        (
            "invalid YAML: a stray indentation",
            "task: demo\n  model: demo\n".into(),
            vec!["not valid YAML", "line 2", "Fix"],
        ),
        (
            "a key that is not a name",
            format!("{demo}3: 4\n"),
            vec!["keys must be names, found `3`", "Fix"],
        ),
        (
            "a model the demo would not use",
            "task: demo\nmodel: bert-base-uncased\n".into(),
            vec!["task `demo`", "bert-base-uncased", "Fix"],
        ),
        (
            "an eval task listed twice",
            "task: mnli\neval_tasks: [rte, rte]\n".into(),
            vec!["eval_tasks names `rte` twice", "Fix"],
        ),
    ];
    let mut rows = Vec::new();
    for (i, (what, text, needles)) in cases.into_iter().enumerate() {
        let p = tmp.path().join(format!("preset{i}.yaml"));
        write(&p, text);
        rows.push(
            row_args("YAML preset", what, train(&p, &out, &[]))
                .says(&needles)
                .says_path(&p),
        );
    }
    // A list or mapping given for a scalar key is shown on one line, as written in flow style.
    let p = tmp.path().join("list-for-scalar.yaml");
    write(&p, format!("{demo}batch_size:\n  - 1\n  - 2\n"));
    rows.push(
        row_args(
            "YAML preset",
            "a block list for a number",
            train(&p, &out, &[]),
        )
        .says(&["`batch_size`", "`[1, 2]`", "expected an integer"])
        .says_path(&p)
        .never(&["- 1", "\n  - 2"]),
    );
    let p = tmp.path().join("map-for-scalar.yaml");
    write(&p, format!("{demo}seed:\n  a: 1\n  b: [x, y]\n"));
    rows.push(
        row_args(
            "YAML preset",
            "a block mapping for a number",
            train(&p, &out, &[]),
        )
        .says(&["`seed`", "`{a: 1, b: [x, y]}`"])
        .says_path(&p)
        .never(&["a: 1\n"]),
    );
    rows.push(
        row_args(
            "YAML preset",
            "a list for a number in --set",
            train("demo", &out, &["--set", "p=[0.1, 0.2]"]),
        )
        .says(&["`p`", "`[0.1, 0.2]`"]),
    );
    let missing = tmp.path().join("nosuch.yaml");
    rows.push(
        row_args(
            "YAML preset",
            "a missing preset file",
            train(&missing, &out, &[]),
        )
        .says(&["cannot read preset", "Fix"])
        .says_path(&missing)
        // The cause is said once, not twice.
        .never(&["(os error 2): No such file"]),
    );
    rows.push(
        row_args(
            "YAML preset",
            "an unknown preset name",
            train("nosuch", &out, &[]),
        )
        .says(&["no preset named `nosuch`", "rte", "Fix"]),
    );
    run_all(&rows);
}

/// A value each key refuses. A key added to `config::KEYS` or `EVAL_KEYS` must get one here.
const REFUSED: &[(&str, &str)] = &[
    ("task", "glue"),
    ("model", ""),
    ("method", "dps"),
    ("max_steps", "0"),
    ("num_epochs", "0"),
    ("batch_size", "4097"),
    ("max_seq_length", "7"),
    ("padding", "left"),
    ("group_by_length", "maybe"),
    ("learning_rate", "2"),
    ("lr_scheduler", "cosine"),
    ("warmup_ratio", "1.5"),
    ("weight_decay", "-0.1"),
    ("adam_beta1", "1"),
    ("adam_beta2", "1.0"),
    ("adam_epsilon", "0"),
    ("max_grad_norm", "-1"),
    ("dropout", "1"),
    ("seed", "-1"),
    ("shuffle", "yes"),
    ("eval_every", "-1"),
    ("train_size", "0"),
    ("data_dir", "[a, b]"),
    ("device", "tpu"),
    ("threads", "-2"),
    ("p", "1"),
    ("update_ratio", "0"),
    ("selection_scope", "local"),
    ("freeze", "soft"),
    ("child_tuning_keep", "0"),
    ("checkpoint_every", "-5"),
    ("keep_last", "-1"),
    ("keep_best", "2"),
    ("train_sampling", "balanced"),
    ("stage_steps_from", "step"),
    ("eval_tasks", "imdb"),
    ("label_maps", "rte"),
    ("nli_dir", "[x]"),
];

#[test]
fn every_set_key_refuses_a_value_out_of_its_range() {
    let keys: Vec<&str> = dps_tui::config::all_keys().map(|(k, _)| *k).collect();
    let uncovered: Vec<&&str> = keys
        .iter()
        .filter(|k| !REFUSED.iter().any(|(r, _)| r == *k))
        .collect();
    assert!(
        uncovered.is_empty(),
        "keys without a refused value in REFUSED: {uncovered:?}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut rows: Vec<Row> = keys
        .iter()
        .map(|k| {
            let v = REFUSED.iter().find(|(r, _)| r == k).unwrap().1;
            let kv = format!("{k}={v}");
            row_args(
                "--set range",
                kv.clone(),
                train("demo", &out, &["--set", &kv]),
            )
            .says(&[&format!("key `{k}`"), "expected", &format!("--set {kv}")])
        })
        .collect();
    rows.push(
        row_args(
            "--set range",
            "no `=`",
            train("demo", &out, &["--set", "seed"]),
        )
        .says(&["`--set seed`", "key=value"]),
    );
    rows.push(
        row_args(
            "--set range",
            "an unknown key",
            train("demo", &out, &["--set", "learning_rat=1"]),
        )
        .says(&["unknown key `learning_rat`", "learning_rate"]),
    );
    run_all(&rows);
    assert!(
        !out.exists()
            || std::fs::read_dir(&out)
                .unwrap()
                .all(|e| !e.unwrap().path().is_dir())
    );
}

#[test]
fn bad_sweep_specs_are_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "a repeated grid value",
            "preset: demo\nset:\n  max_steps: 2\ngrid:\n  seed: [1, 1]\n",
            &["the cell `seed=1` twice", "Fix"],
        ),
        (
            "a grid key written twice",
            "preset: demo\ngrid:\n  seed: [1, 2]\n  p: [0.1]\n  seed: [3]\n",
            &[":5:", "`grid.seed` appears twice", "first at line 3", "Fix"],
        ),
        (
            "a grid value out of range",
            "preset: demo\ngrid:\n  p: [0.5, 2]\n",
            &["grid.p", "key `p`", "expected"],
        ),
        (
            "an unknown grid key",
            "preset: demo\ngrid:\n  sed: [1, 2]\n",
            &["unknown key `sed`", "Allowed keys"],
        ),
        (
            "a key under both set and grid",
            "preset: demo\nset:\n  seed: 3\ngrid:\n  seed: [1, 2]\n",
            &["`seed` is both under `set` and under `grid`", "Fix"],
        ),
        (
            "no preset",
            "grid:\n  seed: [1, 2]\n",
            &["no `preset`", "Fix"],
        ),
    ];
    let mut rows = Vec::new();
    for (i, (what, text, needles)) in cases.iter().enumerate() {
        let spec = tmp.path().join(format!("spec{i}.yaml"));
        write(&spec, text);
        let root = tmp.path().join(format!("sweep{i}"));
        rows.push(
            Row::new(
                "sweep",
                *what,
                &[&"sweep", &spec, &"--out", &root, &"--dry-run"],
            )
            .says(needles)
            .says_path(&spec),
        );
    }
    run_all(&rows);
}
