import { secretStoreContract } from "../testing/secret-store-contract.js";
import { contractDatabases } from "../testing/test-databases.js";

for (const { name, create } of await contractDatabases()) secretStoreContract(name, create);
