package quorate.drift_test

import data.quorate.drift
