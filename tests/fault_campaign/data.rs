//! Malformed GLUE and NLI data files.

use super::*;

const RTE_HEADER: &str = "index\tsentence1\tsentence2\tlabel\n";

#[test]
fn malformed_data_files_name_the_file_the_line_and_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut rows = Vec::new();
    let good_dev = format!("{RTE_HEADER}0\ta\tb\tentailment\n");
    // Each GLUE row gets its own data folder: (what, train.tsv bytes, needles).
    let glue: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "a row with a wrong field count",
            format!("{RTE_HEADER}0\ta\tb\tentailment\n1\tonly two\n").into_bytes(),
            vec!["train.tsv:3", "expected 4 fields, found 2"],
        ),
        (
            "a bad label",
            format!("{RTE_HEADER}0\ta\tb\tmaybe\n").into_bytes(),
            vec!["train.tsv:2", "label `maybe`", "is not one of entailment"],
        ),
        (
            "invalid UTF-8",
            [RTE_HEADER.as_bytes(), b"0\ta\xff\tb\tentailment\n"].concat(),
            vec!["train.tsv:2", "not valid UTF-8", "Fix"],
        ),
        (
            "an empty file",
            Vec::new(),
            vec!["train.tsv:1", "the file is empty", "header"],
        ),
        (
            "a header and no rows",
            RTE_HEADER.as_bytes().to_vec(),
            vec!["train.tsv: the file has no examples", "Fix"],
        ),
    ];
    for (i, (what, bytes, needles)) in glue.into_iter().enumerate() {
        let d = tmp.path().join(format!("glue{i}"));
        write(&d.join("RTE/train.tsv"), bytes);
        write(&d.join("RTE/dev.tsv"), &good_dev);
        let mut a = train_tiny("rte", &out, &["--data-dir"]);
        a.push(d.clone().into());
        rows.push(
            row_args("GLUE TSV", what, a)
                .says(&needles)
                .says_path(&d.join("RTE/train.tsv")),
        );
    }
    // A bad dev file once the train file is fine.
    let d = tmp.path().join("glue-dev");
    write(&d.join("RTE/train.tsv"), &good_dev);
    write(&d.join("RTE/dev.tsv"), format!("{RTE_HEADER}0\ta\tb\n"));
    let mut a = train_tiny("rte", &out, &["--data-dir"]);
    a.push(d.clone().into());
    rows.push(
        row_args("GLUE TSV", "a short row in dev.tsv", a)
            .says(&["dev.tsv:2", "expected 4 fields, found 3"]),
    );
    // A missing file.
    let d = tmp.path().join("glue-none");
    std::fs::create_dir_all(&d).unwrap();
    let mut a = train_tiny("rte", &out, &["--data-dir"]);
    a.push(d.clone().into());
    rows.push(
        row_args("GLUE TSV", "a missing train.tsv", a)
            .says(&["data file not found", "RTE/train.tsv", "Fix"])
            .says_path(&d),
    );
    // STS-B: a score that is not a number.
    let d = tmp.path().join("glue-stsb");
    let sts_header =
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";
    write(
        &d.join("STS-B/train.tsv"),
        format!("{sts_header}0\tmain\tf\t2012\t1\tnone\tnone\ta\tb\thigh\n"),
    );
    write(
        &d.join("STS-B/dev.tsv"),
        format!("{sts_header}0\tmain\tf\t2012\t1\tnone\tnone\ta\tb\t3.8\n"),
    );
    let mut a = train_tiny("stsb", &out, &["--data-dir"]);
    a.push(d.clone().into());
    rows.push(
        row_args("GLUE TSV", "an STS-B score that is not a number", a).says(&[
            "STS-B/train.tsv:2",
            "score `high` is not a number",
            "Fix",
        ]),
    );

    // The NLI sets in their original layouts (`--set task=... --set nli_dir=DIR`).
    let snli_ok = "{\"gold_label\": \"neutral\", \"sentence1\": \"a\", \"sentence2\": \"b\"}\n";
    // (what, task, file under nli_dir, its bytes, words said, words not said)
    type NliRow<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Vec<u8>,
        Vec<&'a str>,
        Vec<&'a str>,
    );
    let nli: Vec<NliRow> = vec![
        (
            "SNLI: a line that is not JSON",
            "snli",
            "snli_1.0/snli_1.0_train.jsonl",
            format!("{snli_ok}{{bad json\n").into_bytes(),
            vec!["snli_1.0_train.jsonl:2", "not a JSON object", "column 2", "Fix"],
            // serde_json's own count would say line 1 of a one-line text.
            vec!["at line 1"],
        ),
        (
            "SNLI: an unknown gold_label",
            "snli",
            "snli_1.0/snli_1.0_train.jsonl",
            b"{\"gold_label\": \"maybe\", \"sentence1\": \"a\", \"sentence2\": \"b\"}\n".to_vec(),
            vec!["snli_1.0_train.jsonl:1", "gold_label `maybe`", "is not one of"],
            vec![],
        ),
        (
            "SNLI: a row without sentence2",
            "snli",
            "snli_1.0/snli_1.0_train.jsonl",
            b"{\"gold_label\": \"neutral\", \"sentence1\": \"a\"}\n".to_vec(),
            vec!["snli_1.0_train.jsonl:1", "`sentence2`", "Fix"],
            vec![],
        ),
        (
            "SICK: no SemEval_set column",
            "sick",
            "SICK/SICK.txt",
            b"pair_ID\tsentence_A\tsentence_B\tentailment_label\n1\ta\tb\tNEUTRAL\n".to_vec(),
            vec!["SICK.txt:1", "SemEval_set", "Fix"],
            vec![],
        ),
        (
            "SICK: an unknown entailment_label",
            "sick",
            "SICK/SICK.txt",
            b"pair_ID\tsentence_A\tsentence_B\tentailment_label\tSemEval_set\n1\ta\tb\tMAYBE\tTRAIN\n"
                .to_vec(),
            vec!["SICK.txt:2", "entailment_label `MAYBE`", "is not one of"],
            vec![],
        ),
        (
            "SciTail: a row with 2 fields",
            "scitail",
            "SciTailV1.1/tsv_format/scitail_1.0_train.tsv",
            b"a premise\ta hypothesis\tentails\nonly\ttwo\n".to_vec(),
            vec!["scitail_1.0_train.tsv:2", "expected 3 fields, found 2"],
            vec![],
        ),
    ];
    for (i, (what, task, file, bytes, needles, absent)) in nli.into_iter().enumerate() {
        let d = tmp.path().join(format!("nli{i}"));
        write(&d.join(file), bytes);
        let nli_dir = format!("nli_dir={}", d.display());
        let task = format!("task={task}");
        let a = train_tiny("rte", &out, &["--set", &task, "--set", &nli_dir]);
        rows.push(
            row_args("NLI files", what, a)
                .says(&needles)
                .never(&absent)
                .says_path(&d.join(file)),
        );
    }
    let d = tmp.path().join("nli-none");
    std::fs::create_dir_all(&d).unwrap();
    let nli_dir = format!("nli_dir={}", d.display());
    let a = train_tiny("rte", &out, &["--set", "task=snli", "--set", &nli_dir]);
    rows.push(
        row_args("NLI files", "SNLI: no files in nli_dir", a).says(&[
            "data file not found",
            "snli_1.0_train.jsonl",
            "Fix",
        ]),
    );
    run_all(&rows);
    // None of these started a run: no run folder is left behind.
    let left: Vec<_> = std::fs::read_dir(&out)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "run folders left behind: {left:?}");
}
