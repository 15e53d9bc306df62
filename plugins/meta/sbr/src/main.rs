//! sbr: a chained plugin that gives each address of the container
//! interface source-based routing. Documentation/sbr.md.

fn main() {
    pkg::skel::run(&sbr::PLUGIN)
}
