package quorate.lib_test

import data.quorate.lib

test_majority_of_three_is_two if lib.required("majority", 3) == 2
