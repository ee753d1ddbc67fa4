package quorate.lib_test

import data.quorate.lib
