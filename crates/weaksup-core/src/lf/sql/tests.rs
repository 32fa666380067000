//! Golden tests of the SQL LF dialect: what is refused (each forbidden form), and what accepted
//! expressions compute, row by row, with SQL's three-valued logic. Expected values are the ones
//! PostgreSQL gives for the same expression (`SELECT expr FROM (VALUES …) t(text, n)`), unless a
//! comment says otherwise.

use super::*;

fn frame() -> DataFrame {
    let text = [
        Some("Check out my channel"),
        Some("CHECK\nOUT"),
        Some("ΟΔΟΣ ΣΑΣ"),
        Some("a.b*c(d)%e_f"),
        Some(""),
        None,
        Some("  007  "),
    ];
    let n: [Option<i64>; 7] = [Some(5), Some(-3), None, Some(0), Some(12), Some(7), Some(100)];
    let x: [Option<f64>; 7] = [Some(0.5), Some(2.0), Some(-1.5), None, Some(4.0), Some(0.0), Some(10.0)];
    let flag = [Some(true), Some(false), None, Some(true), Some(false), Some(true), None];
    DataFrame::new_infer_height(vec![
        Column::new("text".into(), text.to_vec()),
        Column::new("n".into(), n.to_vec()),
        Column::new("x".into(), x.to_vec()),
        Column::new("flag".into(), flag.to_vec()),
        Column::new(
            "Author Name".into(),
            vec![Some("Vevo"), None, Some("σας"), Some("x"), Some(""), Some("MUSIC"), Some("ab")],
        ),
    ])
    .unwrap()
}

/// Votes of `expr` (label 1) on [`frame`], with the shared lower-cased copies added as the applier does.
fn votes(expr: &str) -> Vec<i16> {
    let lf = SqlLf::new("t", expr, 1);
    let c = lf.compile().unwrap_or_else(|e| panic!("{expr}: {e}"));
    let mut f = frame();
    for col in c.lowered() {
        add_lowered(&mut f, &col).unwrap();
    }
    c.votes(&f, 0, expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn err(expr: &str) -> String {
    SqlLf::new("t", expr, 1).compile().expect_err(expr).to_string()
}

fn eval_err(expr: &str) -> String {
    let c = SqlLf::new("t", expr, 1).compile().unwrap_or_else(|e| panic!("{expr}: {e}"));
    c.votes(&frame(), 0, expr).expect_err(expr)
}

const Y: i16 = 1;
const A: i16 = -1;

#[test]
fn file_network_and_code_forms_are_refused_at_load() {
    let cases = [
        ("text IN (SELECT column_1 FROM read_csv('/etc/passwd'))", "subqueries"),
        ("EXISTS (SELECT 1 FROM read_parquet('http://example.com/x.parquet'))", "subqueries"),
        ("(SELECT count(*) FROM t) > 0", "subqueries"),
        ("read_csv('/etc/passwd') IS NOT NULL", "reads files"),
        ("read_json('/etc/passwd') IS NULL", "reads files"),
        ("read_parquet('http://example.com/x.parquet') IS NULL", "reads files"),
        ("length(read_ndjson('x.jsonl')) > 0", "reads files"),
        ("text = ANY(SELECT * FROM read_ipc('x'))", "ANY / ALL"),
        ("text IN UNNEST(ARRAY['a'])", "UNNEST"),
        ("count(*) > 1", "aggregate"),
        ("sum(n) > 1", "aggregate"),
        ("row_number() OVER (ORDER BY n) = 1", "window functions"),
        ("lower(text) OVER () = 'a'", "window functions"),
        ("sleep(10) = 0", "unknown function `sleep`"),
        ("pg_catalog.lower(text) = 'a'", "qualified function names"),
        ("t.text = 'a'", "qualified names"),
        ("text = $1", "placeholders"),
        ("n > 1; DROP TABLE x", "unexpected `;`"),
        ("n > 1 UNION SELECT 1", "unexpected `UNION`"),
        ("SELECT 1", "unexpected `1`"),
        ("", "empty expression"),
        ("length(text", "cannot parse"),
        ("DATE '2020-01-01' IS NULL", "dates"),
        ("lower(DISTINCT text) = 'a'", "DISTINCT"),
        ("text SIMILAR TO 'a%'", "SIMILAR TO"),
        ("CAST(text AS DATE) IS NULL", "CAST to DATE"),
        ("length(text)", "not a condition"),
        ("'abc'", "not a condition"),
        ("lower(text) > 5", "compares text with an integer"),
        ("length(text) + 'a' > 1", "arithmetic on text"),
        ("text IN ('a', 1)", "mixes text"),
        ("text IN ('a', n)", "list of literals"),
        ("text LIKE text", "string literal"),
        ("text ~ '(unclosed'", "bad regex"),
        ("length(text, 2) > 1", "takes 1 arguments"),
    ];
    for (expr, want) in cases {
        let e = err(expr);
        assert!(e.contains(want), "`{expr}`: {e}");
        assert!(e.starts_with("labeling function `t`"), "{e}");
    }
    let deep = format!("{}n > 1{}", "(".repeat(200), ")".repeat(200));
    assert!(err(&deep).contains("cannot parse"), "deep nesting hits the recursion limit");
    let long = vec!["n > 1"; 4000].join(" OR ");
    assert!(err(&long).contains("at most 16384"), "{}", err(&long));
}

#[test]
fn a_long_flat_chain_compiles_and_runs_without_deep_recursion() {
    // 1,600 ORs (15 KiB): the chain is flattened, so neither compiling nor evaluating recurses per term.
    let expr = vec!["n = 9"; 1600].join(" OR ") + " OR n = 5";
    assert!(expr.len() <= MAX_EXPR_BYTES);
    let v = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || votes(&expr))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(v, vec![Y, A, A, A, A, A, A]);
}

#[test]
fn logic_is_three_valued() {
    // n: 5, -3, null, 0, 12, 7, 100
    assert_eq!(votes("n > 4"), vec![Y, A, A, A, Y, Y, Y]);
    assert_eq!(votes("NOT n > 4"), vec![A, Y, A, Y, A, A, A], "NOT null is null");
    assert_eq!(votes("n > 4 OR flag"), vec![Y, A, A, Y, Y, Y, Y], "null OR true is true");
    assert_eq!(votes("n > 4 AND flag"), vec![Y, A, A, A, A, Y, A]);
    assert_eq!(votes("NOT (n > 4 AND flag)"), vec![A, Y, A, Y, Y, A, A], "NOT (null AND false) is true");
    assert_eq!(votes("n IS NULL"), vec![A, A, Y, A, A, A, A]);
    assert_eq!(votes("flag IS NOT TRUE"), vec![A, Y, Y, A, Y, A, Y]);
    assert_eq!(votes("flag IS FALSE"), vec![A, Y, A, A, Y, A, A]);
    assert_eq!(votes("n IS DISTINCT FROM 5"), vec![A, Y, Y, Y, Y, Y, Y]);
    assert_eq!(votes("n IS NOT DISTINCT FROM NULL"), vec![A, A, Y, A, A, A, A]);
    assert_eq!(votes("NULL"), vec![A; 7]);
    assert_eq!(votes("TRUE"), vec![Y; 7]);
}

#[test]
fn text_functions_and_like() {
    // text: "Check out my channel", "CHECK\nOUT", "ΟΔΟΣ ΣΑΣ", "a.b*c(d)%e_f", "", null, "  007  "
    assert_eq!(votes("lower(text) LIKE '%check%'"), vec![Y, Y, A, A, A, A, A]);
    assert_eq!(votes("lower(text) NOT LIKE '%check%'"), vec![A, A, Y, Y, Y, A, Y]);
    assert_eq!(votes("text LIKE 'Check%'"), vec![Y, A, A, A, A, A, A]);
    assert_eq!(votes("text ILIKE 'check%'"), vec![Y, Y, A, A, A, A, A]);
    assert_eq!(votes("text LIKE '%.b*c(%'"), vec![A, A, A, Y, A, A, A]);
    assert_eq!(votes("text LIKE '%!%e!_%' ESCAPE '!'"), vec![A, A, A, Y, A, A, A]);
    assert_eq!(votes("text LIKE '%c_e%'"), vec![A, A, A, A, A, A, A]);
    assert_eq!(votes("lower(text) LIKE '%c_eck%'"), vec![Y, Y, A, A, A, A, A]);
    // Final sigma: "ΟΔΟΣ ΣΑΣ" lower-cases to "οδος σας" (Python's str.lower and PostgreSQL's lower in a UTF-8 locale).
    assert_eq!(votes("lower(text) = 'οδος σας'"), vec![A, A, Y, A, A, A, A]);
    assert_eq!(votes("upper(lower(text)) LIKE '%CHECK%'"), vec![Y, Y, A, A, A, A, A]);
    assert_eq!(
        votes("length(text) < 9"),
        vec![A, A, Y, A, Y, A, Y],
        "characters, not bytes: ΟΔΟΣ ΣΑΣ is 8, CHECK\\nOUT 9"
    );
    assert_eq!(votes("octet_length(text) > 12"), vec![Y, A, Y, A, A, A, A]);
    assert_eq!(votes("trim(text) = '007'"), vec![A, A, A, A, A, A, Y]);
    assert_eq!(votes("TRIM(BOTH ' 0' FROM text) = '7'"), vec![A, A, A, A, A, A, Y]);
    assert_eq!(votes("starts_with(text, 'Check')"), vec![Y, A, A, A, A, A, A]);
    assert_eq!(votes("strpos(text, 'out') = 7"), vec![Y, A, A, A, A, A, A]);
    assert_eq!(votes("POSITION('ΣΑΣ' IN text) = 6"), vec![A, A, Y, A, A, A, A]);
    assert_eq!(votes("substr(text, 1, 5) = 'Check'"), vec![Y, A, A, A, A, A, A]);
    assert_eq!(votes("SUBSTRING(text FROM 7 FOR 3) = 'out'"), vec![Y, A, A, A, A, A, A]);
    assert_eq!(
        votes("substr(text, 0, 3) = 'Ch'"),
        vec![Y, A, A, A, A, A, A],
        "PostgreSQL: start 0 shortens the length"
    );
    assert_eq!(votes("left(text, -17) = 'Che'"), vec![Y, A, A, A, A, A, A]);
    assert_eq!(votes("right(text, 3) = 'nel'"), vec![Y, A, A, A, A, A, A]);
    assert_eq!(votes("replace(text, 'out', 'in') = 'Check in my channel'"), vec![Y, A, A, A, A, A, A]);
    assert_eq!(votes("reverse(text) = 'f_e%)d(c*b.a'"), vec![A, A, A, Y, A, A, A]);
    assert_eq!(votes("text || '!' = '!'"), vec![A, A, A, A, Y, A, A], "|| with null is null");
    assert_eq!(votes("concat(text, '!') = '!'"), vec![A, A, A, A, Y, Y, A], "concat skips nulls");
    assert_eq!(votes("\"Author Name\" IN ('Vevo', 'MUSIC')"), vec![Y, A, A, A, A, Y, A]);
    assert_eq!(votes("text ~ '^[A-Z]{5}\\s'"), vec![A, Y, A, A, A, A, A]);
    assert_eq!(votes("text ~* '^check'"), vec![Y, Y, A, A, A, A, A]);
    assert_eq!(votes("regexp_like(text, 'CHECK', 'i')"), vec![Y, Y, A, A, A, A, A]);
    assert_eq!(votes("coalesce(text, 'missing') = 'missing'"), vec![A, A, A, A, A, Y, A]);
}

#[test]
fn numbers_case_cast_between_in() {
    // n: 5, -3, null, 0, 12, 7, 100 ; x: 0.5, 2.0, -1.5, null, 4.0, 0.0, 10.0
    assert_eq!(votes("n BETWEEN 0 AND 7"), vec![Y, A, A, Y, A, Y, A]);
    assert_eq!(votes("n NOT BETWEEN 0 AND 7"), vec![A, Y, A, A, Y, A, Y]);
    assert_eq!(votes("n IN (5, 12)"), vec![Y, A, A, A, Y, A, A]);
    assert_eq!(votes("n NOT IN (5, NULL)"), vec![A, A, A, A, A, A, A], "NOT IN with a NULL is never true");
    assert_eq!(votes("n * 2 + 1 = 11"), vec![Y, A, A, A, A, A, A]);
    assert_eq!(votes("n / 2 = 2.5"), vec![Y, A, A, A, A, A, A], "/ divides as floats");
    assert_eq!(votes("n % 5 = 2"), vec![A, A, A, A, Y, Y, A]);
    assert_eq!(votes("n / 0 IS NULL"), vec![Y; 7], "division by zero is null");
    assert_eq!(votes("n + x > 5"), vec![Y, A, A, A, Y, Y, Y]);
    assert_eq!(votes("-n > 0"), vec![A, Y, A, A, A, A, A]);
    assert_eq!(votes("abs(n) = 3 AND sign(n) = -1"), vec![A, Y, A, A, A, A, A]);
    assert_eq!(votes("round(x) = 2"), vec![A, Y, A, A, A, A, A]);
    assert_eq!(votes("round(x, 0) = -2"), vec![A, A, Y, A, A, A, A], "half away from zero");
    assert_eq!(votes("floor(x) = -2 OR ceil(x) = 1"), vec![Y, A, Y, A, A, A, A]);
    assert_eq!(votes("sqrt(x) = 2"), vec![A, A, A, A, Y, A, A]);
    assert_eq!(votes("sqrt(x) IS NULL"), vec![A, A, Y, Y, A, A, A], "sqrt of a negative is null");
    assert_eq!(votes("ln(x) IS NULL"), vec![A, A, Y, Y, A, Y, A]);
    assert_eq!(votes("power(n, 2) = 25"), vec![Y, A, A, A, A, A, A]);
    assert_eq!(votes("greatest(n, 6) = 6"), vec![Y, Y, Y, Y, A, A, A], "greatest ignores nulls");
    assert_eq!(votes("least(n, x) < 0"), vec![A, Y, Y, A, A, A, A]);
    assert_eq!(votes("nullif(n, 5) IS NULL"), vec![Y, A, Y, A, A, A, A]);
    assert_eq!(
        votes("CASE WHEN n > 10 THEN 'big' WHEN n > 0 THEN 'small' ELSE 'other' END = 'small'"),
        vec![Y, A, A, A, A, Y, A]
    );
    assert_eq!(votes("CASE n WHEN 5 THEN TRUE WHEN 0 THEN TRUE END"), vec![Y, A, A, Y, A, A, A]);
    assert_eq!(votes("CAST(n AS VARCHAR) = '-3'"), vec![A, Y, A, A, A, A, A]);
    assert_eq!(
        votes("CAST(x AS INTEGER) = -2"),
        vec![A, A, Y, A, A, A, A],
        "-1.5 rounds half away from zero"
    );
    assert_eq!(
        votes("TRY_CAST(text AS INTEGER) = 7"),
        vec![A, A, A, A, A, A, Y],
        "'  007  ' parses, others give null"
    );
    assert_eq!(votes("CAST(flag AS INTEGER) = 1"), vec![Y, A, A, Y, A, Y, A]);
    assert_eq!(
        votes("9223372036854775807 + n > 0"),
        vec![A, Y, A, Y, A, A, A],
        "integer overflow is null, not a wrapped number"
    );
}

#[test]
fn data_dependent_errors_name_the_row_and_say_what_to_do() {
    let e = eval_err("CAST(text AS INTEGER) = 7");
    assert!(e.contains("row 0") && e.contains("'Check out my channel'") && e.contains("TRY_CAST"), "{e}");
    let e = eval_err("text > 5");
    assert!(e.contains("compares text with an integer") && e.contains("CAST(x AS INTEGER)"), "{e}");
    let e = eval_err("nope > 1");
    assert!(e.contains("no column `nope`") && e.contains("columns: text, n, x, flag"), "{e}");
    let e = eval_err("n");
    assert!(e.contains("not a condition"), "{e}");
    let e = eval_err("n LIKE '%1%'");
    assert!(e.contains("LIKE on an integer"), "{e}");
}
