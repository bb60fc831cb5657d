module dwops/bench/floor

go 1.21
