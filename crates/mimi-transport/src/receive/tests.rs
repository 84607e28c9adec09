use super::is_octet_stream;

#[test]
fn content_types_are_matched_without_parameters_and_case() {
    for ok in [
        "application/octet-stream",
        "Application/Octet-Stream",
        "application/octet-stream; charset=binary",
        " application/octet-stream ;x=y",
    ] {
        assert!(is_octet_stream(ok), "{ok}");
    }
    for bad in [
        "",
        "text/plain",
        "application/octet-streamx",
        "application/json; application/octet-stream",
    ] {
        assert!(!is_octet_stream(bad), "{bad}");
    }
}
