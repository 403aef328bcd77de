use modemflow_flow::Registry; pub fn register(_r: &mut Registry) {}
