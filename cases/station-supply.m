% The utility supply of a pipeline exercise's pump stations: the regional grid as one
% equivalent source (bus 1, 138 kV) and the stations' 13.8 kV bus (bus 2) with their
% motors, about 3 MW per pump (a 3,560 rpm pump moving 3,000 m3/h against 620 m of head at
% about 80 % efficiency: 3000/3600 m3/s x 740 kg/m3 x 9.81 x 620 m / 0.8 = 4.7 MW at full
% speed, less on the stations that run slower). The grid here only keeps the range's
% runtime whole: a pipeline exercise has no grid devices on its network.
function mpc = station_supply
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [
	1	3	0	0	0	0	1	1	0	138	1	1.1	0.9;
	2	1	10	3	0	0	1	1	0	13.8	1	1.1	0.9;
];
mpc.gen = [
	1	10	3	100	-100	1.0	100	1	500	0	0	0	0	0	0	0	0	0	0	0	0;
];
mpc.branch = [
	1	2	0.005	0.08	0	50	50	50	0	0	1	-360	360;
];
