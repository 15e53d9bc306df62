//! `cnitool`: run a CNI network against a network namespace by hand, as
//! Go's cnitool does (Documentation/spec-notes.md §8), on top of `libcni`. Extras: `list`,
//! `version`, `validate`, `--cache-dir`, `--timeout`, `--container-id`,
//! and errors that show the plugin's code and details.

mod cli;
mod ids;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Map, Value};

use libcni::{CniConfig, DefaultExec, NetworkConfigList, RuntimeConf, conf};
use pkg::{Error, Result};

use cli::{Cli, Cmd};

fn main() -> ExitCode {
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report::error(&e);
            ExitCode::FAILURE
        }
    }
}

/// The environment cnitool reads (upstream's variables plus ours).
struct Env {
    netconfpath: PathBuf,
    cni_path: Vec<PathBuf>,
    ifname: String,
    cni_args: String,
    cap_args: Option<String>,
}

impl Env {
    fn read() -> Env {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Env {
            netconfpath: var("NETCONFPATH")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(libcni::DEFAULT_NET_DIR)),
            cni_path: var("CNI_PATH")
                .map(|p| pkg::invoke::split_path(&p))
                .unwrap_or_default(),
            ifname: var("CNI_IFNAME").unwrap_or_else(|| "eth0".into()),
            cni_args: var("CNI_ARGS").unwrap_or_default(),
            cap_args: var("CAP_ARGS"),
        }
    }
}

fn cni_config(cli: &Cli, env: &Env) -> CniConfig {
    let cache_dir = cli
        .cache_dir
        .clone()
        .or_else(|| {
            std::env::var_os("CNI_CACHE_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(libcni::DEFAULT_CACHE_DIR));
    CniConfig::new(env.cni_path.clone())
        .with_cache_dir(cache_dir)
        .with_exec(std::sync::Arc::new(DefaultExec {
            timeout: cli.timeout.0,
            quiet: false,
        }))
}

fn run(cli: &Cli) -> Result<()> {
    let env = Env::read();
    let cni = cni_config(cli, &env);
    match &cli.command {
        Cmd::Add(a) => {
            let (net, rt) = attachment(cli, &env, &a.network, &a.netns, true)?;
            let result = cni.add_network_list(&net, &rt)?;
            report::print_json(&libcni::result_json(&result)?)
        }
        Cmd::Check(a) => {
            let (net, rt) = attachment(cli, &env, &a.network, &a.netns, true)?;
            cni.check_network_list(&net, &rt)
        }
        Cmd::Del(a) => {
            let (net, rt) = attachment(cli, &env, &a.network, &a.netns, false)?;
            cni.del_network_list(&net, &rt)
        }
        Cmd::Gc(a) => {
            let net = load(&env, &a.network)?;
            // No valid set: every cached attachment of the network goes.
            cni.gc_network_list(&net, None)
        }
        Cmd::Status(a) => {
            let net = load(&env, &a.network)?;
            cni.status_network_list(&net)
        }
        Cmd::List(l) => report::list(&env.netconfpath, l.quiet, l.json),
        Cmd::Version(v) => versions(&cni, &env, &v.plugins),
        Cmd::Validate(v) => {
            let net = load(&env, &v.network)?;
            let caps = cni.validate_network_list(&net)?;
            println!(
                "network {:?} ({}): plugins found and support version {:?}; capabilities: {}",
                net.name,
                net.source
                    .as_deref()
                    .map(Path::display)
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                if net.cni_version.is_empty() {
                    "0.1.0"
                } else {
                    &net.cni_version
                },
                if caps.is_empty() {
                    "none".into()
                } else {
                    caps.join(", ")
                }
            );
            Ok(())
        }
    }
}

fn load(env: &Env, name: &str) -> Result<NetworkConfigList> {
    conf::load_conf_list(&env.netconfpath, name)
}

/// The network and the runtime parameters of `add`/`check`/`del`.
fn attachment(
    cli: &Cli,
    env: &Env,
    network: &str,
    netns: &str,
    netns_must_exist: bool,
) -> Result<(NetworkConfigList, RuntimeConf)> {
    // Bad environment first: nothing is loaded or run with it.
    let args = libcni::parse_cni_args(&env.cni_args)?;
    let capability_args = parse_cap_args(env.cap_args.as_deref())?;
    let netns = ids::absolute(Path::new(netns))?;
    if netns_must_exist && let Err(e) = std::fs::metadata(&netns) {
        return Err(Error::invalid_netns(
            format!("netns path {} cannot be used", netns.display()),
            e.to_string().to_lowercase(),
        ));
    }
    let netns = netns.to_string_lossy().into_owned();
    let ifname = cli
        .ifname
        .clone()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| env.ifname.clone());
    let container_id = cli
        .container_id
        .clone()
        .unwrap_or_else(|| ids::container_id(&netns));
    let net = load(env, network)?;
    let rt = RuntimeConf {
        container_id,
        netns,
        ifname,
        args,
        capability_args,
    };
    Ok((net, rt))
}

fn parse_cap_args(s: Option<&str>) -> Result<Map<String, Value>> {
    let Some(s) = s else {
        return Ok(Map::new());
    };
    match serde_json::from_str::<Value>(s) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(Error::invalid_env(
            "CAP_ARGS must be a JSON object",
            format!("got {other}"),
        )),
        Err(e) => Err(Error::invalid_env(
            "CAP_ARGS is not valid JSON",
            e.to_string(),
        )),
    }
}

/// `cnitool version [plugin...]`: our version, then what each plugin
/// answers to VERSION (by default the plugins the networks in
/// `NETCONFPATH` use, IPAM included).
fn versions(cni: &CniConfig, env: &Env, plugins: &[String]) -> Result<()> {
    println!(
        "cnitool {}, CNI spec {}",
        pkg::release::describe(),
        libcni::Version::CURRENT
    );
    let names = if plugins.is_empty() {
        report::plugin_types(&env.netconfpath)?
    } else {
        plugins.to_vec()
    };
    let mut errs = Vec::new();
    for name in names {
        match cni.version_info(&name) {
            Ok(info) => println!("{name}: {}", info.supported_versions.join(", ")),
            Err(e) => errs.push(e.context(format!("plugin {name}"))),
        }
    }
    Error::from_list(errs)
}
