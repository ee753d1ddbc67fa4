package quorate.unstable_test

import data.quorate.unstable
