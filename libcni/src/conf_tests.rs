use std::path::Path;

use serde_json::json;

use super::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test/fixtures/libcni-cache")
}

fn write(dir: &Path, name: &str, content: &str) {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(p, content).unwrap();
}

fn conflist(name: &str, types: &[&str]) -> String {
    let plugins: Vec<Value> = types.iter().map(|t| json!({"type": t})).collect();
    json!({"cniVersion": "1.0.0", "name": name, "plugins": plugins}).to_string()
}

fn single(name: &str, t: &str) -> String {
    json!({"cniVersion": "0.3.1", "name": name, "type": t}).to_string()
}

/// What `load_conf_list` found: the file and the plugin types, or the
/// error message.
fn lookup(dir: &Path, name: &str) -> std::result::Result<(String, Vec<String>), String> {
    load_conf_list(dir, name)
        .map(|l| {
            let file = l
                .source
                .as_ref()
                .and_then(|s| s.file_name())
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            (
                file,
                l.plugins.iter().map(|p| p.plugin_type.clone()).collect(),
            )
        })
        .map_err(|e| e.to_string())
}

// Documentation/conformance.md item 38: conflists in sorted order, the first with the name wins,
// a .conf/.json of the same name only when no conflist matches
#[test]
fn conformance_38_lookup_order_and_precedence() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(dir, "20-b.conflist", &conflist("net", &["second"]));
    write(dir, "10-a.conflist", &conflist("net", &["first"]));
    write(dir, "05-a.conf", &single("net", "legacy"));
    write(dir, "07-a.conf", &single("other", "legacy-other"));
    write(dir, "01-z.json", &single("json-net", "from-json"));
    write(dir, "02-ignored.txt", &single("txt", "nope"));
    write(dir, "03.conflist.bak", &conflist("bak", &["nope"]));
    // a directory named like a config is not one
    std::fs::create_dir(dir.join("04-dir.conflist")).unwrap();
    type Found = std::result::Result<(&'static str, Vec<&'static str>), String>;
    let cases: Vec<(&str, Found)> = vec![
        ("net", Ok(("10-a.conflist", vec!["first"]))),
        ("other", Ok(("07-a.conf", vec!["legacy-other"]))),
        ("json-net", Ok(("01-z.json", vec!["from-json"]))),
        (
            "txt",
            Err(format!(
                "no net configuration with name \"txt\" in {}",
                dir.display()
            )),
        ),
        (
            "bak",
            Err(format!(
                "no net configuration with name \"bak\" in {}",
                dir.display()
            )),
        ),
    ];
    for (name, want) in cases {
        let got = lookup(dir, name);
        let want = want.map(|(f, t)| (f.to_string(), t.iter().map(|s| s.to_string()).collect()));
        assert_eq!(got, want, "{name}");
    }
    // the legacy .conf became a one-plugin list with its own name and version
    let l = load_conf_list(dir, "other").unwrap();
    assert_eq!(
        (l.name.as_str(), l.cni_version.as_str()),
        ("other", "0.3.1")
    );
}

#[test]
fn lookup_errors() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let missing = dir.join("missing");
    // nothing at all / a missing directory
    for empty in [dir, missing.as_path()] {
        let e = load_conf_list(empty, "x").unwrap_err();
        assert!(is_no_configs_found(&e), "{e}");
        assert_eq!(
            e.to_string(),
            format!("no net configurations found in {}", empty.display())
        );
    }
    // only conflists, none matching: "not found", not "no configs"
    write(dir, "10.conflist", &conflist("a", &["x"]));
    let e = load_conf_list(dir, "x").unwrap_err();
    assert!(is_not_found(&e) && !is_no_configs_found(&e), "{e}");
}

// Documentation/conformance.md item 39: a malformed conflist sorted before the match aborts the
// lookup, and the error names the file
#[test]
fn conformance_39_malformed_file_aborts_lookup() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(dir, "20-good.conflist", &conflist("net", &["bridge"]));
    let cases = [
        (
            "10-bad.conflist",
            "{\"name\": ",
            6,
            "error parsing configuration list",
        ),
        (
            "10-bad.conflist",
            "{\"cniVersion\": \"1.0.0\"}",
            7,
            "error parsing configuration list: no name",
        ),
        (
            "10-bad.conflist",
            "{\"name\": 5, \"plugins\": []}",
            7,
            "error parsing configuration list: invalid name type float64",
        ),
        (
            "10-bad.conflist",
            "[]",
            6,
            "error parsing configuration list",
        ),
    ];
    for (file, content, code, msg) in cases {
        write(dir, file, content);
        let e = load_conf_list(dir, "net").unwrap_err();
        let path = dir.join(file).display().to_string();
        assert_eq!(e.code(), code, "{content}: {e}");
        assert!(
            e.to_string().starts_with(&format!("{path}: {msg}")),
            "{content}: {e}"
        );
    }
    // sorted after the match it does not matter
    std::fs::rename(dir.join("10-bad.conflist"), dir.join("30-bad.conflist")).unwrap();
    assert!(load_conf_list(dir, "net").is_ok());
    // an unreadable file is named too (a dangling symlink reads as ENOENT)
    std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("05-link.conflist")).unwrap();
    let e = load_conf_list(dir, "net").unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "error reading {}",
            dir.join("05-link.conflist").display()
        )),
        "{e}"
    );
}

// Documentation/conformance.md item 40: a legacy .conf/.json is a one-plugin list with its name
// and version; one without `type` is an error
#[test]
fn conformance_40_legacy_single_plugin_files() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        "10.conf",
        r#"{"cniVersion":"0.4.0","name":"n","type":"ptp","mtu":1400}"#,
    );
    let l = load_conf_list(dir, "n").unwrap();
    assert_eq!(l.plugins.len(), 1);
    assert_eq!(l.plugins[0].conf.get("mtu"), Some(&json!(1400)));
    assert_eq!(l.plugins[0].plugin_type, "ptp");
    write(dir, "05.conf", r#"{"cniVersion":"0.4.0","name":"m"}"#);
    let e = load_conf_list(dir, "n").unwrap_err();
    assert!(
        e.to_string()
            .ends_with("error parsing configuration: missing 'type'"),
        "{e}"
    );
    assert!(e.to_string().contains("05.conf"), "{e}");
}

// The converted list is what Go caches for a .conf: compact, sorted keys.
#[test]
fn conf_to_list_bytes_match_go() {
    let fx = fixtures().join("s3-conf-0.3.1-ptp");
    let conf = PluginConfig::from_file(&fx.join("30-fx-s3.conf")).unwrap();
    let list = NetworkConfigList::from_conf(&conf).unwrap();
    let want = std::fs::read(fx.join("cache-config.decoded")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&list.bytes),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(list.name, "fx-s3");
    assert_eq!(list.cni_version, "0.3.1");
}

// Documentation/conformance.md item 41: sibling-directory plugins come after the inline ones unless
// loadOnlyInlinedPlugins; that flag without plugins, or no plugins at all,
// is an error
#[test]
fn conformance_41_sibling_directory_plugins() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(dir, "net/20-b.conf", r#"{"type":"tuning"}"#);
    write(
        dir,
        "net/10-a.conf",
        r#"{"type":"portmap","capabilities":{"portMappings":true}}"#,
    );
    write(dir, "net/30-c.json", r#"{"type":"ignored"}"#);
    write(dir, "net/sub/40.conf", r#"{"type":"ignored"}"#);
    struct Case {
        file: &'static str,
        want: std::result::Result<Vec<&'static str>, &'static str>,
    }
    let cases = [
        Case {
            file: r#"{"cniVersion":"1.1.0","name":"net","plugins":[{"type":"bridge"}]}"#,
            want: Ok(vec!["bridge", "portmap", "tuning"]),
        },
        Case {
            file: r#"{"cniVersion":"1.1.0","name":"net","loadOnlyInlinedPlugins":true,"plugins":[{"type":"bridge"}]}"#,
            want: Ok(vec!["bridge"]),
        },
        Case {
            file: r#"{"cniVersion":"1.1.0","name":"net"}"#,
            want: Ok(vec!["portmap", "tuning"]),
        },
        Case {
            file: r#"{"cniVersion":"1.1.0","name":"net","loadOnlyInlinedPlugins":true}"#,
            want: Err(
                "error parsing configuration list: `loadOnlyInlinedPlugins` is true, and no 'plugins' key",
            ),
        },
        Case {
            file: r#"{"cniVersion":"1.1.0","name":"lonely"}"#,
            want: Err("no plugin configs found"),
        },
    ];
    for c in cases {
        write(dir, "10.conflist", c.file);
        let got = NetworkConfigList::from_file(&dir.join("10.conflist"));
        match (got, c.want) {
            (Ok(l), Ok(types)) => {
                let got: Vec<&str> = l.plugins.iter().map(|p| p.plugin_type.as_str()).collect();
                assert_eq!(got, types, "{}", c.file);
                // the cached bytes are the file's, without the siblings
                assert_eq!(l.bytes, c.file.as_bytes());
            }
            (Err(e), Err(msg)) => {
                assert!(e.to_string().ends_with(msg), "{}: {e}", c.file);
                assert!(e.to_string().contains("10.conflist"), "{e}");
            }
            (got, want) => panic!("{}: got {got:?}, want {want:?}", c.file),
        }
    }
    // a broken sibling plugin is an error naming it
    write(dir, "net/15-bad.conf", r#"{"capabilities":{}}"#);
    write(
        dir,
        "10.conflist",
        r#"{"cniVersion":"1.1.0","name":"net","plugins":[{"type":"bridge"}]}"#,
    );
    let e = NetworkConfigList::from_file(&dir.join("10.conflist")).unwrap_err();
    assert!(e.to_string().contains("15-bad.conf"), "{e}");
    // names that are not one path component have no sibling directory
    for name in ["", ".", "..", "a/b"] {
        assert!(
            plugin_confs_from_dir(dir, name).unwrap().is_empty(),
            "{name:?}"
        );
    }
}

// Documentation/conformance.md item 42: the three booleans take JSON booleans and "true"/"false"
// strings in any case, nothing else
#[test]
fn conformance_42_boolean_flags() {
    let cases: Vec<(Value, std::result::Result<bool, &str>)> = vec![
        (json!(true), Ok(true)),
        (json!(false), Ok(false)),
        (json!("true"), Ok(true)),
        (json!("TRUE"), Ok(true)),
        (json!("False"), Ok(false)),
        (json!("yes"), Err("invalid value \"yes\" for")),
        (json!(1), Err("invalid type float64 for")),
        (json!(null), Err("invalid type <nil> for")),
    ];
    for key in ["disableCheck", "disableGC", "loadOnlyInlinedPlugins"] {
        for (v, want) in &cases {
            let doc =
                json!({"name": "n", "cniVersion": "1.1.0", "plugins": [{"type": "x"}], key: v});
            let got = NetworkConfigList::from_bytes(doc.to_string().as_bytes());
            match (got, want) {
                (Ok(l), Ok(b)) => {
                    let flag = match key {
                        "disableCheck" => l.disable_check,
                        "disableGC" => l.disable_gc,
                        _ => l.load_only_inlined_plugins,
                    };
                    assert_eq!(flag, *b, "{key}={v}");
                }
                (Err(e), Err(msg)) => {
                    assert_eq!(
                        e.to_string(),
                        format!("error parsing configuration list: {msg} {key}"),
                        "{key}={v}"
                    );
                }
                (got, want) => panic!("{key}={v}: got {got:?}, want {want:?}"),
            }
        }
    }
}

// Documentation/conformance.md item 43: version selection with cniVersions
#[test]
fn conformance_43_version_selection() {
    let cases: Vec<(Value, std::result::Result<&str, ()>)> = vec![
        (
            json!({"cniVersions": ["0.4.0", "1.0.0", "1.1.0", "9.0.0"]}),
            Ok("1.1.0"),
        ),
        (
            json!({"cniVersions": ["1.1.0", "0.4.0", "1.0.0"]}),
            Ok("1.1.0"),
        ),
        (json!({"cniVersions": ["99.0.0", "1.1.0"]}), Ok("1.1.0")),
        (
            json!({"cniVersion": "1.0.0", "cniVersions": ["0.1.0", "0.4.0"]}),
            Ok("1.0.0"),
        ),
        (
            json!({"cniVersion": "0.3.1", "cniVersions": ["0.4.0"]}),
            Ok("0.4.0"),
        ),
        (
            json!({"cniVersion": "2.0.0", "cniVersions": ["9.0.0"]}),
            Ok("2.0.0"),
        ),
        (json!({"cniVersions": []}), Ok("")),
        (json!({"cniVersion": "1.2.3"}), Ok("1.2.3")),
        (json!({"cniVersion": "abc"}), Ok("abc")),
        (json!({}), Ok("")),
        (json!({"cniVersions": ["1.1.0", "1.0.f"]}), Err(())),
        (
            json!({"cniVersion": "x", "cniVersions": ["1.0.0"]}),
            Err(()),
        ),
        (json!({"cniVersions": "1.0.0"}), Err(())),
        (json!({"cniVersions": [1]}), Err(())),
        (json!({"cniVersion": 1}), Err(())),
    ];
    for (mut doc, want) in cases {
        doc["name"] = json!("n");
        doc["plugins"] = json!([{"type": "x"}]);
        let got = NetworkConfigList::from_bytes(doc.to_string().as_bytes());
        match (got, want) {
            (Ok(l), Ok(v)) => assert_eq!(l.cni_version, v, "{doc}"),
            (Err(e), Err(())) => {
                assert!(
                    e.to_string()
                        .starts_with("error parsing configuration list"),
                    "{e}"
                )
            }
            (got, want) => panic!("{doc}: got {got:?}, want {want:?}"),
        }
    }
}

// Documentation/conformance.md item 44: an empty plugins array is an error, every plugin needs a
// non-empty type
#[test]
fn conformance_44_plugins_need_a_type() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!([]),
            "error parsing configuration list: no plugins in list",
        ),
        (
            json!({}),
            "error parsing configuration list: invalid 'plugins' type map[string]interface {}",
        ),
        (
            json!([{"type": "a"}, {}]),
            "failed to parse plugin config 1: error parsing configuration: missing 'type'",
        ),
        (
            json!([{"type": ""}]),
            "failed to parse plugin config 0: error parsing configuration: missing 'type'",
        ),
        (
            json!(["bridge"]),
            "failed to parse plugin config 0: error parsing configuration",
        ),
        (
            json!([{"type": 5}]),
            "failed to parse plugin config 0: error parsing configuration",
        ),
        (
            json!([{"type": "a", "capabilities": {"ips": "yes"}}]),
            "failed to parse plugin config 0: error parsing configuration",
        ),
    ];
    for (plugins, msg) in cases {
        let doc = json!({"name": "n", "cniVersion": "1.0.0", "plugins": plugins});
        let e = NetworkConfigList::from_bytes(doc.to_string().as_bytes()).unwrap_err();
        assert!(e.to_string().starts_with(msg), "{plugins}: {e}");
    }
    // the type key is matched as Go's struct decoding does
    let p = PluginConfig::from_value(json!({"Type": "bridge"})).unwrap();
    assert_eq!(p.plugin_type, "bridge");
}

#[test]
fn plugin_objects_and_inject() {
    let p = PluginConfig::from_bytes(
        br#"{"type":"portmap","name":"pm","capabilities":{"portMappings":true,"ips":false,"mac":true},"x":1}"#,
    )
    .unwrap();
    assert_eq!(p.capabilities, vec!["portMappings", "mac"]);
    assert_eq!(p.description(), "type=\"portmap\" name=\"pm\"");
    let q = p
        .inject(&[("name", json!("net")), ("runtimeConfig", json!({"a": 1}))])
        .unwrap();
    assert_eq!(q.name, "net");
    assert_eq!(q.conf.get("x"), Some(&json!(1)));
    // replaced in place: key order kept
    let keys: Vec<&str> = q.conf.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec!["type", "name", "capabilities", "x", "runtimeConfig"]
    );
    assert!(p.inject(&[("", json!(1))]).is_err());
    assert!(p.inject(&[("k", Value::Null)]).is_err());
    assert!(p.inject(&[("type", json!(""))]).is_err());
}

#[test]
fn lists_files_in_lookup_order() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(dir, "10-a.conflist", &conflist("a", &["bridge"]));
    write(dir, "20-b.conflist", "{broken");
    write(dir, "30-a.conflist", &conflist("a", &["x"]));
    write(dir, "05-a.conf", &single("a", "legacy"));
    write(dir, "06-c.json", &single("c", "legacy"));
    let entries = list_conf_files(dir).unwrap();
    let got: Vec<(String, bool, bool)> = entries
        .iter()
        .map(|e| {
            (
                e.path.file_name().unwrap().to_string_lossy().into_owned(),
                e.network.is_ok(),
                e.active,
            )
        })
        .collect();
    let want = vec![
        ("10-a.conflist", true, true),
        ("20-b.conflist", false, false),
        ("30-a.conflist", true, false),
        ("05-a.conf", true, false),
        // behind a broken conflist: the lookup fails before reaching it
        ("06-c.json", true, false),
    ];
    let want: Vec<(String, bool, bool)> = want
        .into_iter()
        .map(|(f, ok, a)| (f.to_string(), ok, a))
        .collect();
    assert_eq!(got, want);
    assert!(load_conf_list(dir, "c").is_err());
}
