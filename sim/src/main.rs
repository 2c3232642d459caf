fn main() {
    println!("sim: under construction");
}
