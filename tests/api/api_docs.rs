//! docs/api.md lists every problem code and every field-error code the API can give
//! (the catalogues `PROBLEM_CODES` and `FIELD_ERROR_CODES`), each as `` `code` ``.

use salus_http::codes::{FIELD_ERROR_CODES, PROBLEM_CODES};

#[test]
fn the_api_guide_lists_every_problem_and_field_error_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md");
    let guide = std::fs::read_to_string(path).unwrap();
    let missing: Vec<&str> = PROBLEM_CODES
        .iter()
        .chain(FIELD_ERROR_CODES)
        .map(|(code, _)| *code)
        .filter(|code| !guide.contains(&format!("`{code}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/api.md does not list these codes (add them, backticked, to its tables): {missing:?}"
    );
}
