package quorate.quorum_test

import data.quorate.quorum
