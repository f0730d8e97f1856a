fn main() {
    std::process::exit(rha_ldirectord::cli::main());
}
