//! The M/M/c network of the engine benchmark on meshtwin's engine (the event queue, stations
//! and distributions the mesh model runs on): Poisson arrivals through two 2-worker stations
//! with exponential service, an exponential network delay between them. The same network as
//! sim/benches/simpy/mmc_network.py; prints the same JSON fields.
//!
//!     cargo run --release -p sim --example mmc_network -- --requests 2000000 --seed 1

use rand::SeedableRng;
use sim::engine::station::Admission;
use sim::engine::{Distribution, EventQueue, Scheduling, SimRng, SimTime, Station};

const ARRIVAL_RATE: f64 = 8000.0;
const SERVICE_MEAN_NS: f64 = 100_000.0;
const WIRE_MEAN_NS: f64 = 20_000.0;

#[derive(Clone, Copy)]
enum Event {
    Arrival,
    Reach(u32, u8),
    Served(u32, u8),
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let requests = arg("--requests", 2_000_000) as u32;
    let mut rng = SimRng::seed_from_u64(arg("--seed", 1));
    let interarrival = Distribution::Exponential {
        mean: 1e9 / ARRIVAL_RATE,
    };
    let service = Distribution::Exponential {
        mean: SERVICE_MEAN_NS,
    };
    let wire = Distribution::Exponential { mean: WIRE_MEAN_NS };
    let mut stations = [
        Station::new(2, Scheduling::Fifo, u32::MAX),
        Station::new(2, Scheduling::Fifo, u32::MAX),
    ];
    let mut queue: EventQueue<Event> = EventQueue::new();
    let mut started_at: Vec<u64> = Vec::with_capacity(requests as usize);
    let (mut done, mut sojourn_sum) = (0u64, 0.0f64);
    let wall = std::time::Instant::now();
    queue.schedule(
        SimTime(0).after(interarrival.sample(&mut rng)),
        Event::Arrival,
    );
    while let Some((now, event)) = queue.pop() {
        match event {
            Event::Arrival => {
                let id = started_at.len() as u32;
                started_at.push(now.0);
                queue.schedule(now, Event::Reach(id, 0));
                if started_at.len() < requests as usize {
                    queue.schedule(now.after(interarrival.sample(&mut rng)), Event::Arrival);
                }
            }
            Event::Reach(id, s) => {
                if stations[s as usize].arrive(id, 0) == Admission::Start {
                    queue.schedule(now.after(service.sample(&mut rng)), Event::Served(id, s));
                }
            }
            Event::Served(id, s) => {
                if let Some(next) = stations[s as usize].finish() {
                    queue.schedule(now.after(service.sample(&mut rng)), Event::Served(next, s));
                }
                if s == 0 {
                    queue.schedule(now.after(wire.sample(&mut rng)), Event::Reach(id, 1));
                } else {
                    done += 1;
                    sojourn_sum += (now.0 - started_at[id as usize]) as f64;
                }
            }
        }
    }
    let seconds = wall.elapsed().as_secs_f64();
    println!(
        "{{\"model\": \"meshtwin\", \"requests\": {done}, \"events\": {}, \"wall_seconds\": {seconds}, \"requests_per_second\": {}, \"events_per_second\": {}, \"mean_sojourn_us\": {}}}",
        queue.popped(),
        done as f64 / seconds,
        queue.popped() as f64 / seconds,
        sojourn_sum / done as f64 / 1000.0
    );
}
