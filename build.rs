// The migrations are embedded at compile time (`sqlx::migrate!`): a new or changed file must
// rebuild the crate, which Cargo does not know on its own.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
