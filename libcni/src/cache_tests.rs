use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use super::*;
use crate::runtime::parse_cni_args;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test/fixtures/libcni-cache")
}

/// A scenario of the Go fixtures: its args.json and its cache file.
struct Scenario {
    dir: PathBuf,
    args: Value,
    cache_file: PathBuf,
}

fn scenarios() -> Vec<Scenario> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let results = dir.join("cache-after-add/results");
        let Ok(rd) = std::fs::read_dir(&results) else {
            continue;
        };
        let cache_file = rd.flatten().next().unwrap().path();
        let args: Value =
            serde_json::from_slice(&std::fs::read(dir.join("args.json")).unwrap()).unwrap();
        out.push(Scenario {
            dir,
            args,
            cache_file,
        });
    }
    assert_eq!(out.len(), 5, "fixture scenarios with a cache file");
    out
}

impl Scenario {
    fn rt(&self, with_netns: bool) -> RuntimeConf {
        let a = &self.args;
        let mut rt = RuntimeConf::new(
            a["CNI_CONTAINERID"].as_str().unwrap(),
            if with_netns {
                a["netns"].as_str().unwrap()
            } else {
                ""
            },
            a["CNI_IFNAME"].as_str().unwrap(),
        );
        if let Some(s) = a["CNI_ARGS"].as_str() {
            // the Go driver split on `;` then on the first `=`
            rt.args = s
                .split(';')
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    (k.to_string(), v.to_string())
                })
                .collect();
        }
        if let Some(s) = a["CAP_ARGS"].as_str() {
            rt.capability_args = serde_json::from_str::<Value>(s)
                .unwrap()
                .as_object()
                .unwrap()
                .clone();
        }
        rt
    }

    fn network(&self) -> &str {
        self.args["network"].as_str().unwrap()
    }

    /// The config bytes Go cached: the conflist file, or for a .conf the
    /// converted list.
    fn config_bytes(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("cache-config.decoded")).unwrap()
    }
}

// The files Go's libcni wrote decode to what was passed, and our encoder
// writes them back byte for byte.
#[test]
fn go_cache_files_round_trip_byte_for_byte() {
    for s in scenarios() {
        let bytes = std::fs::read(&s.cache_file).unwrap();
        let e = CacheEntry::decode(&bytes).unwrap();
        let rt = s.rt(false);
        assert_eq!(e.container_id, rt.container_id, "{}", s.dir.display());
        assert_eq!(e.ifname, rt.ifname);
        assert_eq!(e.network_name, s.network());
        assert_eq!(e.cni_args, rt.args);
        assert_eq!(e.config, s.config_bytes(), "{}", s.dir.display());
        assert_eq!(
            String::from_utf8(e.encode().unwrap()).unwrap(),
            String::from_utf8(bytes).unwrap(),
            "{}",
            s.dir.display()
        );
    }
}

// What ResultCache::write produces from the runtime's inputs is the file Go
// wrote (Go 1.1.2 did not store the netns yet; newer Go and we do).
#[test]
fn our_writes_match_go_files() {
    for s in scenarios() {
        let go_bytes = std::fs::read(&s.cache_file).unwrap();
        let go = CacheEntry::decode(&go_bytes).unwrap();
        let root = tempfile::tempdir().unwrap();
        let cache = ResultCache::new(root.path());
        let rt = s.rt(false);
        let path = cache
            .write(
                s.network(),
                &rt,
                &s.config_bytes(),
                go.result.as_ref().unwrap(),
            )
            .unwrap();
        assert_eq!(path.file_name(), s.cache_file.file_name());
        let ours = std::fs::read(&path).unwrap();
        // s5's capability args carry an integer above 2^53, which Go
        // rounds through float64 and we keep exact
        if s.network() == "fx-s5" {
            let ours = String::from_utf8(ours).unwrap();
            let go = String::from_utf8(go_bytes).unwrap();
            assert_eq!(
                ours.replace("12345678901234567890", "12345678901234567000"),
                go
            );
        } else {
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(go_bytes).unwrap()
            );
        }
        // with the netns, the only addition is the netns key
        let rt = s.rt(true);
        cache
            .write(
                s.network(),
                &rt,
                &s.config_bytes(),
                go.result.as_ref().unwrap(),
            )
            .unwrap();
        let back = cache.entry(s.network(), &rt).unwrap().unwrap();
        assert_eq!(back.netns, rt.netns);
    }
}

// Documentation/conformance.md item 51: file name, modes 0700/0600, and every field
#[test]
fn conformance_51_cache_file_layout() {
    let root = tempfile::tempdir().unwrap();
    let cache = ResultCache::new(root.path().join("cache"));
    let mut rt = RuntimeConf::new("c0ffee01", "/run/netns/c1", "eth0");
    rt.args = parse_cni_args("IgnoreUnknown=1;K8S_POD_NAME=web-0").unwrap();
    rt.capability_args =
        json!({"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]})
            .as_object()
            .unwrap()
            .clone();
    let config = br#"{"cniVersion":"1.1.0","name":"lab-net","plugins":[{"type":"bridge"}]}"#;
    let result = json!({"cniVersion": "1.1.0", "interfaces": [{"name": "eth0", "sandbox": "/run/netns/c1"}],
                        "ips": [{"address": "172.30.0.7/24", "interface": 0}]});
    let path = cache.write("lab-net", &rt, config, &result).unwrap();
    assert_eq!(
        path,
        root.path().join("cache/results/lab-net-c0ffee01-eth0")
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&root.path().join("cache")), 0o700);
    assert_eq!(mode(&root.path().join("cache/results")), 0o700);
    assert_eq!(mode(&path), 0o600);
    // no temporary file left
    assert_eq!(
        std::fs::read_dir(root.path().join("cache/results"))
            .unwrap()
            .count(),
        1
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        concat!(
            r#"{"kind":"cniCacheV1","containerId":"c0ffee01","#,
            r#""config":"eyJjbmlWZXJzaW9uIjoiMS4xLjAiLCJuYW1lIjoibGFiLW5ldCIsInBsdWdpbnMiOlt7InR5cGUiOiJicmlkZ2UifV19","#,
            r#""ifName":"eth0","networkName":"lab-net","netns":"/run/netns/c1","#,
            r#""cniArgs":[["IgnoreUnknown","1"],["K8S_POD_NAME","web-0"]],"#,
            r#""capabilityArgs":{"portMappings":[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}]},"#,
            r#""result":{"cniVersion":"1.1.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/c1"}],"ips":[{"address":"172.30.0.7/24","interface":0}]}}"#
        )
    );
    // empty parts are refused, as in Go; so is a part that leaves the dir
    for (net, cid, ifname) in [
        ("", "c", "e"),
        ("n", "", "e"),
        ("n", "c", ""),
        ("n", "../../x", "e"),
    ] {
        let rt = RuntimeConf::new(cid, "", ifname);
        assert!(
            cache.write(net, &rt, b"{}", &result).is_err(),
            "{net}-{cid}-{ifname}"
        );
    }
    // empty optional fields are left out
    let rt = RuntimeConf::new("c2", "", "eth0");
    let p = cache.write("n", &rt, b"{}", &json!({})).unwrap();
    assert_eq!(
        std::fs::read_to_string(p).unwrap(),
        r#"{"kind":"cniCacheV1","containerId":"c2","config":"e30=","ifName":"eth0","networkName":"n"}"#
    );
}

// Documentation/conformance.md item 59: the reader accepts cniCacheV1 files and legacy bare results,
// and converts to the requested version
#[test]
fn conformance_59_cached_result_formats() {
    let root = tempfile::tempdir().unwrap();
    let cache = ResultCache::new(root.path());
    let rt = RuntimeConf::new("cid", "/n", "eth0");
    std::fs::create_dir_all(cache.results_dir()).unwrap();
    let file = cache.file_path("net", &rt).unwrap();
    let v1 = json!({"cniVersion": "1.0.0", "interfaces": [{"name": "eth0"}],
                    "ips": [{"address": "10.0.0.2/24", "gateway": "10.0.0.1", "interface": 0}]});
    type Want = std::result::Result<Option<Value>, ()>;
    let cases: Vec<(String, &str, Want)> = vec![
        // no file
        (String::new(), "1.0.0", Ok(None)),
        (
            CacheEntry { result: Some(v1.clone()), ..Default::default() }
                .encode()
                .map(|b| String::from_utf8(b).unwrap())
                .unwrap(),
            "0.4.0",
            Ok(Some(json!({"cniVersion": "0.4.0", "interfaces": [{"name": "eth0"}],
                "ips": [{"version": "4", "address": "10.0.0.2/24", "gateway": "10.0.0.1", "interface": 0}], "dns": {}}))),
        ),
        // legacy: the file is the result
        (
            r#"{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2/24"}}"#.into(),
            "1.1.0",
            Ok(Some(json!({"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.2/24"}]}))),
        ),
        // legacy without a version is 0.1.0
        (
            r#"{"ip4":{"ip":"10.0.0.2/24"}}"#.into(),
            "0.2.0",
            Ok(Some(json!({"cniVersion": "0.2.0", "ip4": {"ip": "10.0.0.2/24"}, "dns": {}}))),
        ),
        // 1.0.0 → 1.1.0 works here (Go 1.1.2 could not, fixture s4c)
        (
            std::fs::read_to_string(fixtures().join(
                "s4c-conflist-1.1.0-fake-plugin-1.0.0-result/cache-after-add/results/fx-s4c-cid-s4c-eth0",
            ))
            .unwrap(),
            "1.1.0",
            Ok(Some(json!({"cniVersion": "1.1.0",
                "interfaces": [{"name": "eth0", "sandbox": "/tmp/cnifx-work/ns/ns-s4c-conflist-1.1.0-fake-plugin-1.0.0-result"}],
                "ips": [{"address": "10.77.6.2/24", "interface": 0}]}))),
        ),
        ("not json".into(), "1.0.0", Err(())),
        // a 1.x result without any IPv4/IPv6 address cannot go down to 0.2.0
        (
            r#"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}]}"#.into(),
            "0.2.0",
            Err(()),
        ),
        (r#"{"cniVersion":"7.0.0"}"#.into(), "1.0.0", Err(())),
        (r#"{"cniVersion":"1.0.0"}"#.into(), "1.2.3", Err(())),
    ];
    for (content, version, want) in cases {
        let _ = std::fs::remove_file(&file);
        if !content.is_empty() {
            std::fs::write(&file, &content).unwrap();
        }
        let got = cache.result("net", version, &rt);
        match (got, want) {
            (Ok(None), Ok(None)) => {}
            (Ok(Some(r)), Ok(Some(w))) => {
                let v = Version::from_exact(&r.cni_version).unwrap();
                assert_eq!(r.to_value(v).unwrap(), w, "{content}");
            }
            (Err(_), Err(())) => {}
            (got, want) => panic!("{content} as {version}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn cached_config_replaces_args() {
    let root = tempfile::tempdir().unwrap();
    let cache = ResultCache::new(root.path());
    let mut rt = RuntimeConf::new("cid", "/n", "eth0");
    rt.args = vec![("A".into(), "1".into())];
    rt.capability_args = json!({"mac": "x"}).as_object().unwrap().clone();
    cache
        .write("net", &rt, b"{\"x\":1}", &json!({"cniVersion": "1.0.0"}))
        .unwrap();
    let asker = RuntimeConf {
        args: vec![("B".into(), "2".into())],
        ..RuntimeConf::new("cid", "/other", "eth0")
    };
    let (bytes, got) = cache.config("net", &asker).unwrap().unwrap();
    assert_eq!(bytes, b"{\"x\":1}");
    assert_eq!(got.args, rt.args);
    assert_eq!(got.capability_args, rt.capability_args);
    assert_eq!(got.netns, "/other");
    assert!(cache.config("other", &asker).unwrap().is_none());
    std::fs::write(
        cache.file_path("net", &asker).unwrap(),
        r#"{"kind":"other"}"#,
    )
    .unwrap();
    assert!(cache.config("net", &asker).is_err());
}

// Documentation/conformance.md item 60: enumeration skips what is not a complete cniCacheV1 entry
// and can filter by container ID
#[test]
fn conformance_60_cached_attachments() {
    let root = tempfile::tempdir().unwrap();
    let cache = ResultCache::new(root.path());
    assert!(cache.attachments("").unwrap().is_empty(), "missing dir");
    let add = |net: &str, cid: &str, ifname: &str| {
        let rt = RuntimeConf::new(cid, format!("/run/netns/{cid}"), ifname);
        cache
            .write(net, &rt, b"{}", &json!({"cniVersion": "1.0.0"}))
            .unwrap();
    };
    add("net", "aaa", "eth0");
    add("net", "bbb", "eth0");
    add("net", "aaa", "eth1");
    add("other", "aaa", "eth0");
    // a prefix of another ID must not match it
    add("net", "aaa-x", "eth0");
    let dir = cache.results_dir();
    std::fs::write(dir.join("net-legacy-eth0"), r#"{"cniVersion":"0.4.0"}"#).unwrap();
    std::fs::write(dir.join("net-garbage-eth0"), "garbage").unwrap();
    std::fs::write(
        dir.join("net-noif-eth0"),
        r#"{"kind":"cniCacheV1","containerId":"noif","networkName":"net"}"#,
    )
    .unwrap();
    // a file whose name matches but whose content names another container
    std::fs::write(
        dir.join("net-aaa-eth9"),
        r#"{"kind":"cniCacheV1","containerId":"zzz","ifName":"eth9","networkName":"net"}"#,
    )
    .unwrap();
    std::fs::create_dir(dir.join("net-adir-eth0")).unwrap();
    let names = |atts: Vec<NetworkAttachment>| -> Vec<String> {
        atts.iter()
            .map(|a| format!("{}/{}/{}/{}", a.network, a.container_id, a.ifname, a.netns))
            .collect()
    };
    assert_eq!(
        names(cache.attachments("").unwrap()),
        vec![
            "net/aaa/eth0//run/netns/aaa",
            "net/aaa/eth1//run/netns/aaa",
            "net/zzz/eth9/",
            "net/aaa-x/eth0//run/netns/aaa-x",
            "net/bbb/eth0//run/netns/bbb",
            "other/aaa/eth0//run/netns/aaa",
        ]
    );
    assert_eq!(
        names(cache.attachments("aaa").unwrap()),
        vec![
            "net/aaa/eth0//run/netns/aaa",
            "net/aaa/eth1//run/netns/aaa",
            "other/aaa/eth0//run/netns/aaa",
        ]
    );
    assert!(cache.attachments("eth0").unwrap().is_empty());
    // the Go fixtures enumerate too
    let s = &scenarios()[0];
    let fx = ResultCache::new(s.cache_file.parent().unwrap().parent().unwrap());
    let got = fx.attachments("cid-s1").unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].cni_args,
        vec![
            ("IgnoreUnknown".to_string(), "1".to_string()),
            ("K8S_POD_NAME".to_string(), "web".to_string())
        ]
    );
}

#[test]
fn remove_is_quiet_about_missing_entries() {
    let root = tempfile::tempdir().unwrap();
    let cache = ResultCache::new(root.path());
    let rt = RuntimeConf::new("c", "", "eth0");
    cache.remove("net", &rt).unwrap();
    cache
        .write("net", &rt, b"{}", &json!({"cniVersion": "1.0.0"}))
        .unwrap();
    cache.remove("net", &rt).unwrap();
    assert!(cache.entry("net", &rt).unwrap().is_none());
    // the directory stays, as with Go
    assert!(cache.results_dir().is_dir());
}
