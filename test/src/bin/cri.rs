//! A CRI v1 client for test/e2e/containerd.sh, which plays kubelet: it
//! talks gRPC to containerd's CRI plugin on a unix socket, one call per
//! run, and prints one line for the script to read.
//!
//!   cri <socket> status              NetworkReady <bool>, networks <names>
//!   cri <socket> run <name> [<port>] <pod id> <ip> <pid>
//!   cri <socket> stop|rm <pod id>
//!   cri <socket> ls                  one pod id a line
//!
//! `run` asks for a pod whose TCP port 80 is mapped to host port <port>
//! and with the bandwidth annotations kubelet passes on
//! (`kubernetes.io/ingress-bandwidth` 1M, `kubernetes.io/egress-bandwidth`
//! 2M). A failed call prints the gRPC status and exits 1.

use hyper_util::rt::TokioIo;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    LinuxPodSandboxConfig, ListPodSandboxRequest, PodSandboxConfig, PodSandboxMetadata,
    PodSandboxStatusRequest, PortMapping, Protocol, RemovePodSandboxRequest, RunPodSandboxRequest,
    StatusRequest, StopPodSandboxRequest,
};
use std::collections::HashMap;
use std::process::exit;
use tonic::transport::{Channel, Endpoint, Uri};
use tower::service_fn;

type Client = RuntimeServiceClient<Channel>;

fn usage() -> ! {
    eprintln!("usage: cri <socket> status|ls|run <name> [<host port>]|stop <id>|rm <id>");
    exit(2)
}

fn fail(what: &str, status: tonic::Status) -> ! {
    eprintln!("cri {what}: {}: {}", status.code(), status.message());
    exit(1)
}

async fn connect(socket: String) -> Client {
    // The URI is a placeholder: the connector dials the socket.
    let channel = Endpoint::from_static("http://[::1]")
        .connect_with_connector(service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
        .unwrap_or_else(|e| {
            eprintln!("cri: cannot connect: {e}");
            exit(1)
        });
    RuntimeServiceClient::new(channel)
}

async fn status(c: &mut Client) {
    let r = c
        .status(StatusRequest { verbose: true })
        .await
        .unwrap_or_else(|s| fail("status", s))
        .into_inner();
    let ready = r
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .any(|c| c.r#type == "NetworkReady" && c.status);
    // containerd's verbose info: libcni's view of the loaded networks.
    let networks: Vec<String> = r
        .info
        .get("cniconfig")
        .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        .and_then(|v| v["Networks"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|n| n["Config"]["Name"].as_str().map(str::to_owned))
        .collect();
    println!("NetworkReady {ready}");
    println!("networks {}", networks.join(" "));
}

async fn run(c: &mut Client, name: &str, host_port: Option<i32>) {
    let annotations = HashMap::from([
        (
            "kubernetes.io/ingress-bandwidth".to_owned(),
            "1M".to_owned(),
        ),
        ("kubernetes.io/egress-bandwidth".to_owned(), "2M".to_owned()),
    ]);
    let config = PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: name.to_owned(),
            uid: format!("uid-{name}"),
            namespace: "cni-e2e".to_owned(),
            attempt: 0,
        }),
        hostname: name.to_owned(),
        port_mappings: host_port
            .map(|p| PortMapping {
                protocol: Protocol::Tcp as i32,
                container_port: 80,
                host_port: p,
                host_ip: String::new(),
            })
            .into_iter()
            .collect(),
        annotations,
        linux: Some(LinuxPodSandboxConfig::default()),
        ..Default::default()
    };
    let id = c
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(config),
            runtime_handler: String::new(),
        })
        .await
        .unwrap_or_else(|s| fail("run", s))
        .into_inner()
        .pod_sandbox_id;
    let r = c
        .pod_sandbox_status(PodSandboxStatusRequest {
            pod_sandbox_id: id.clone(),
            verbose: true,
        })
        .await
        .unwrap_or_else(|s| fail("status of the new pod", s))
        .into_inner();
    let ip = r
        .status
        .and_then(|s| s.network)
        .map(|n| n.ip)
        .unwrap_or_default();
    let pid = r
        .info
        .get("info")
        .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        .and_then(|v| v["pid"].as_u64())
        .unwrap_or(0);
    println!("{id} {ip} {pid}");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [socket, verb, rest @ ..] = args.as_slice() else {
        usage()
    };
    let mut c = connect(socket.clone()).await;
    match (verb.as_str(), rest) {
        ("status", []) => status(&mut c).await,
        ("run", [name]) => run(&mut c, name, None).await,
        ("run", [name, port]) => {
            let port = port.parse().unwrap_or_else(|_| usage());
            run(&mut c, name, Some(port)).await
        }
        ("stop", [id]) => {
            c.stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: id.clone(),
            })
            .await
            .unwrap_or_else(|s| fail("stop", s));
        }
        ("rm", [id]) => {
            c.remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: id.clone(),
            })
            .await
            .unwrap_or_else(|s| fail("rm", s));
        }
        ("ls", []) => {
            let r = c
                .list_pod_sandbox(ListPodSandboxRequest { filter: None })
                .await
                .unwrap_or_else(|s| fail("ls", s))
                .into_inner();
            for p in r.items {
                println!("{}", p.id);
            }
        }
        _ => usage(),
    }
}
