//! static IPAM: hands out exactly the addresses it is given.

fn main() {
    static_ipam::main()
}
