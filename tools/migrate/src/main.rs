fn main() {
    std::process::exit(rha_migrate::cli::main(std::env::args_os().collect()));
}
